"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied to both real and fake
images before D, so D can't overfit a small dataset. Pure functions on (N, 3, H, W) in [-1, 1].

Policy is a comma list of "color", "translation", "cutout"; "" disables it.
"""
import torch
import torch.nn.functional as F


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    for name in filter(None, (p.strip() for p in policy.split(","))):
        for fn in AUGMENTS[name]:
            x = fn(x)
    return x.contiguous()


def validate_policy(policy: str) -> str:
    bad = [p for p in filter(None, (p.strip() for p in policy.split(","))) if p not in AUGMENTS]
    if bad:
        raise ValueError(f"unknown DiffAugment op(s) {bad}; choose from {sorted(AUGMENTS)}")
    return policy


def _rand(x: torch.Tensor) -> torch.Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)


def brightness(x):
    return x + (_rand(x) - 0.5)


def saturation(x):
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_rand(x) * 2) + mean


def contrast(x):
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_rand(x) + 0.5) + mean


def translation(x, ratio: float = 0.125):
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    ty = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    gb, gx, gy = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(h, device=x.device),
                                torch.arange(w, device=x.device), indexing="ij")
    gx = torch.clamp(gx + tx + 1, 0, h + 1)
    gy = torch.clamp(gy + ty + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])  # zero border: shifted-in pixels are 0 (mid-grey)
    return padded.permute(0, 2, 3, 1)[gb, gx, gy].permute(0, 3, 1, 2)


def cutout(x, ratio: float = 0.5):
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    oy = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    gb, gx, gy = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(ch, device=x.device),
                                torch.arange(cw, device=x.device), indexing="ij")
    gx = torch.clamp(gx + ox - ch // 2, 0, h - 1)
    gy = torch.clamp(gy + oy - cw // 2, 0, w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


AUGMENTS = {"color": [brightness, saturation, contrast], "translation": [translation], "cutout": [cutout]}
