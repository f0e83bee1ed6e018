"""catgan.train.ema: the EMA's warm-up, the average itself, buffers copied, state round trip; standing
BatchNorm statistics."""
import pytest
import torch
from torch import nn

from catgan.train.ema import EMA, standing_statistics


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


def test_standing_statistics_are_those_of_the_network_as_it_runs_at_inference():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 4), nn.BatchNorm1d(4))
    model[3].running_mean.fill_(7.0)  # stale statistics, as an EMA's copies of another network's
    batches = [torch.randn(16, 3) + i for i in range(5)]
    assert standing_statistics(model, batches) == 5
    with torch.no_grad():
        hidden = [model[:3](x) for x in batches]  # what BatchNorm sees at inference: dropout off
    assert torch.allclose(model[3].running_mean, torch.stack([h.mean(0) for h in hidden]).mean(0), atol=1e-5)
    assert torch.allclose(model[3].running_var, torch.stack([h.var(0) for h in hidden]).mean(0), atol=1e-5)
    assert not any(m.training for m in model.modules()) and model[3].momentum == 0.1
    kept = model[3].running_mean.clone()
    with pytest.raises(ValueError, match="at least one batch"):
        standing_statistics(model, iter([]))
    assert torch.equal(model[3].running_mean, kept)  # refused before anything was reset
