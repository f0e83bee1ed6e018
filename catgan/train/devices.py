"""Where and in which precision to train: ``--device auto`` and ``--precision auto`` resolved once."""
import warnings

import torch


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but no CUDA GPU is visible")
    return torch.device("cuda", local_rank) if name == "cuda" else torch.device(name)


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 matrix products run in hardware here: a CUDA GPU that supports bf16, or a CPU
    with AVX512-BF16 or AMX. Elsewhere (AVX2-only CPUs) PyTorch emulates them, and a bf16 step
    measured 4-7x slower than fp32 on such a CPU."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto``: bf16 where it is native (see native_bf16), else fp32. fp16 needs CUDA."""
    if name == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if name == "fp16" and device.type != "cuda":
        raise ValueError("--precision fp16 needs CUDA; use bf16 or fp32 on CPU")
    if name == "bf16" and not native_bf16(device):
        warnings.warn(f"bf16 is emulated on this {device.type} (no AVX512-BF16/AMX): expect it to be several "
                      "times slower than --precision fp32", stacklevel=2)
    return name
