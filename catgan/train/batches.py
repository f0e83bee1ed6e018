"""Real-image batches drawn from an in-memory (or in-GPU-memory) uint8 tensor.

Batch ``i`` is a pure function of (seed, i): epoch ``e`` is a seeded permutation, split into
``world_size`` disjoint shards, so a resumed or multi-process run sees exactly the data an
uninterrupted single run would have. Flips use the global RNG, whose state is checkpointed.
"""
import torch

from ..images import from_uint8


class RealBatches:
    def __init__(self, images: torch.Tensor, batch_size: int, *, seed: int, flip: bool = True,
                 device: torch.device | str = "cpu", rank: int = 0, world_size: int = 1,
                 channels_last: bool = False):
        self.images = images.to(device)  # (N, 3, S, S) uint8
        self.batch_size, self.seed, self.flip = batch_size, seed, flip
        self.rank, self.world_size, self.channels_last = rank, world_size, channels_last
        self.per_epoch = len(images) // world_size // batch_size  # full batches per rank per epoch
        if self.per_epoch < 1:
            raise ValueError(f"batch size {batch_size} x {world_size} process(es) is larger than the "
                             f"dataset ({len(images)} images); lower --batch-size")
        self._cached_epoch, self._cached_perm = -1, None

    def shard(self, epoch: int) -> torch.Tensor:
        """Indices this rank sees in ``epoch`` (disjoint across ranks, same length on each)."""
        if epoch != self._cached_epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            perm = torch.randperm(len(self.images), generator=g)
            usable = self.per_epoch * self.batch_size * self.world_size
            self._cached_perm = perm[:usable][self.rank::self.world_size].to(self.images.device)
            self._cached_epoch = epoch
        return self._cached_perm

    def get(self, index: int) -> torch.Tensor:
        """The ``index``-th batch of this rank: float (B, 3, S, S) in [-1, 1]."""
        epoch, j = divmod(index, self.per_epoch)
        idx = self.shard(epoch)[j * self.batch_size:(j + 1) * self.batch_size]
        x = from_uint8(self.images[idx])
        if self.flip:
            mask = torch.rand(len(idx), 1, 1, 1, device=x.device) < 0.5
            x = torch.where(mask, x.flip(3), x)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x
