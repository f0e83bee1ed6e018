"""Exponential moving average of a network's weights: what the GAN trainer samples and exports, and
what the judge trainer ships. Buffers (BatchNorm statistics) are copied, not averaged; a release may
recompute them for the averaged weights (standing_statistics)."""
import contextlib
import copy
import itertools
from collections.abc import Iterable

import torch


class EMA:
    def __init__(self, model: torch.nn.Module, decay: float):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int | None) -> None:
        """Move the average toward ``model``; ``step`` warms the decay up (early steps track closely, so
        the average forgets its random start). None: no warm-up, for an average of trained weights."""
        decay = self.decay if step is None else min(self.decay, (1 + step) / (10 + step))
        for e, p in zip(self.model.parameters(), model.parameters()):
            e.lerp_(p.detach(), 1.0 - decay)
        for e, b in zip(self.model.buffers(), model.buffers()):
            e.copy_(b)

    def state_dict(self) -> dict:
        return self.model.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state)


@contextlib.contextmanager
def batchnorm_momentum(model: torch.nn.Module, momentum: float | None):
    """Run with every BatchNorm layer of ``model`` at ``momentum`` (None: a cumulative average);
    yields those layers, and puts their momenta back on the way out."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.momentum = momentum
    try:
        yield norms
    finally:
        for m, before in zip(norms, momenta, strict=True):
            m.momentum = before


@contextlib.contextmanager
def held_statistics(model: torch.nn.Module):
    """Run ``model`` in train mode without moving its BatchNorm buffers: momentum 0 keeps the running
    statistics as they are while each batch's own statistics still normalise (a held G during D's
    warm-up), and the batch counters are put back."""
    with batchnorm_momentum(model, 0.0) as norms:
        counts = [m.num_batches_tracked.clone() for m in norms]
        try:
            yield
        finally:
            for m, count in zip(norms, counts, strict=True):
                m.num_batches_tracked.copy_(count)


@torch.no_grad()
def standing_statistics(model: torch.nn.Module, inputs: Iterable[torch.Tensor]) -> int:
    """Recompute ``model``'s BatchNorm statistics for its own weights, as it runs at inference: the plain
    average of each batch's mean and variance over ``inputs``, with every other layer in eval mode
    (BigGAN's "standing statistics", Brock et al. 2018). An EMA's buffers are copies of the trained
    network's, which had other weights and, with dropout, activations of another scale. Returns the
    number of batches; leaves ``model`` in eval mode with its BatchNorm momenta as they were."""
    inputs = iter(inputs)
    first = next(inputs, None)
    if first is None:
        raise ValueError("standing statistics need at least one batch")
    model.eval()
    n = 0
    with batchnorm_momentum(model, None) as norms:  # None: a cumulative average over the batches
        for m in norms:
            m.reset_running_stats()
            m.train()
        for x in itertools.chain([first], inputs):
            model(x)
            n += 1
    for m in norms:
        m.eval()
    return n
