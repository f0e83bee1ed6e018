"""Multi-process training on PyTorch DDP, launched by torchrun (single- or multi-node).

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; without them everything stays single-process.
NCCL is used on CUDA, gloo on CPU.
"""
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .. import env


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device: str) -> DistInfo:
    """Join the process group torchrun describes (call once, from the CLI, never at import)."""
    world_size = int(env.value(env.WORLD_SIZE) or 1)
    if world_size <= 1:
        return DistInfo()
    use_cuda = device != "cpu" and torch.cuda.is_available()
    local_rank = int(env.value(env.LOCAL_RANK) or 0)
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank)


def wait_for_all() -> None:
    """Barrier: no rank leaves before the others (rank 0 may still be exporting). A rank that
    tears down its process group early while rank 0 still hosts the store aborts (SIGABRT)."""
    if dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def mean_across_ranks(x: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized():
        x = x.clone()
        dist.all_reduce(x)
        x /= dist.get_world_size()
    return x


def gather_across_ranks(x: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's copy of ``x`` (same shape on all ranks)."""
    if not dist.is_initialized():
        return [x]
    out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(out, x.contiguous())
    return out


def params_checksum(model: torch.nn.Module) -> torch.Tensor:
    """float64 sums of every parameter and buffer: equal iff (practically) the weights are equal."""
    return torch.stack([t.detach().double().sum() for t in (*model.parameters(), *model.buffers())
                        if t.is_floating_point()])
