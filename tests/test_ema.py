"""catgan.train.ema.EMA: warm-up, the average itself, buffers copied, state round trip."""
import torch
from torch import nn

from catgan.train.ema import EMA


def net() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 2, bias=False), nn.BatchNorm1d(2))


def test_average_warm_up_and_buffers():
    model = net()
    ema = EMA(model, decay=0.9)
    assert not any(p.requires_grad for p in ema.model.parameters()) and not ema.model.training
    start = ema.model[0].weight.clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].running_mean.fill_(5.0)
    ema.update(model, step=0)  # warm-up: decay = min(0.9, 1/10) = 0.1, so the average moves 90 % of the way
    assert torch.allclose(ema.model[0].weight, start + 0.9)
    assert torch.equal(ema.model[1].running_mean, torch.full((2,), 5.0))  # copied, not averaged
    ema.update(model, step=10_000)  # past the warm-up: decay 0.9, 10 % of the remaining gap
    assert torch.allclose(ema.model[0].weight, start + 0.9 + 0.1 * 0.1)


def test_state_round_trip():
    a, b = EMA(net(), 0.99), EMA(net(), 0.99)
    b.load_state_dict(a.state_dict())
    assert all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()))
