"""Metrics: FID, KID and precision/recall on TF-Inception pool3 features, near-copy (memorisation)
check, cat-rate.

``FEATURE_METRICS`` is the registry of metrics computed from two feature sets (real, generated).
Inception features (and, in evaluate, judge probabilities) are cached on disk under a hash of the
images' bytes, written atomically.

Near-copies: each image is reduced to a 32x32 RGB thumbnail in [-1, 1] (area averaging) and
compared by RMS pixel distance. The threshold is calibrated on the training set itself: the
``NEAR_COPY_QUANTILE`` (1 %) quantile of real-vs-real nearest-neighbour distances (each training
image against all *other* training images). So a generator whose samples are as far from the
training set as a fresh real image would be flags ~1 % of them; a clearly higher fraction means
memorised training images.
"""
from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .. import env
from ..fileio import atomic_write
from ..images import to_float

FEATURES_VERSION = "tf-inception-2015-12-05-pool3|bilinear-299-align_corners-False|v1"
NEAR_COPY_SIZE = 32
NEAR_COPY_QUANTILE = 0.01


# ---- FID / KID -------------------------------------------------------------------------------

def feature_stats(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features -> mean (D,) and covariance (D, D), float64."""
    f = features.double().numpy()
    return f.mean(0), np.cov(f, rowvar=False)


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def fid_from_stats(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance; tr sqrt(S1 S2) = tr sqrt(S1^1/2 S2 S1^1/2), a symmetric PSD matrix."""
    s1h = _sqrt_psd(sigma1)
    inner = s1h @ sigma2 @ s1h
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean, 0.0))


def fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID between two (N, D) feature sets.

    With fewer images than dimensions the covariances are low-rank, and
    tr sqrt(S1 S2) = ||A B^T||_* / sqrt((n1 - 1)(n2 - 1)) for the centred features A, B: an SVD of
    an (n1, n2) matrix instead of two (D, D) eigendecompositions. Both routes are exact.
    """
    a, b = real.double(), fake.double()
    if min(len(a), len(b)) > a.shape[1]:
        return fid_from_stats(*feature_stats(a), *feature_stats(b))
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = a - mu_a, b - mu_b
    na, nb = len(a) - 1, len(b) - 1
    tr_covmean = torch.linalg.svdvals(ca @ cb.T).sum() / math.sqrt(na * nb)
    value = (mu_a - mu_b).square().sum() + ca.square().sum() / na + cb.square().sum() / nb - 2 * tr_covmean
    return float(value.clamp_min(0))


def kid(real: torch.Tensor, fake: torch.Tensor, *, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD^2 with the cubic polynomial
    kernel (x.y / d + 1)^3, averaged over random subsets. Returns (mean, std)."""
    x, y = real.double(), fake.double()
    d, m = x.shape[1], min(subset_size, len(x), len(y))
    if m < 2:
        raise ValueError("KID needs at least 2 images per set")
    gen = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        a = x[torch.randperm(len(x), generator=gen)[:m]]
        b = y[torch.randperm(len(y), generator=gen)[:m]]
        kxx, kyy, kxy = (a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3
        off = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
        values.append(float(off - 2 * kxy.mean()))
    return float(np.mean(values)), float(np.std(values))


def _knn_radii(x: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row."""
    return torch.cat([torch.cdist(x[i:i + chunk], x).kthvalue(k + 1, dim=1).values for i in range(0, len(x), chunk)])


def _covered(queries: torch.Tensor, refs: torch.Tensor, radii: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Whether each query lies inside some ref's k-NN ball."""
    return torch.cat([(torch.cdist(queries[i:i + chunk], refs) <= radii[None]).any(1)
                      for i in range(0, len(queries), chunk)])


def precision_recall(real: torch.Tensor, fake: torch.Tensor, *, k: int = 3, seed: int = 0) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): the share of generated features inside
    the real set's k-NN manifold (realism), and of real features inside the generated one (coverage).
    Both sets are cut to the smaller one's size (seeded), since a ball's radius depends on the set's size."""
    m = min(len(real), len(fake))
    if m <= k:
        raise ValueError(f"precision and recall need more than k={k} images per set")
    gen = torch.Generator().manual_seed(seed)
    x = real.double()[torch.randperm(len(real), generator=gen)[:m]]
    y = fake.double()[torch.randperm(len(fake), generator=gen)[:m]]
    precision = _covered(y, x, _knn_radii(x, k)).double().mean()
    recall = _covered(x, y, _knn_radii(y, k)).double().mean()
    return float(precision), float(recall)


FEATURE_METRICS: dict[str, Callable[[torch.Tensor, torch.Tensor], object]] = {"fid": fid, "kid": kid}


# ---- on-disk caches (Inception features, judge probabilities) ---------------------------------

CACHE_CHUNK = 1000  # images per cache file


def images_key(images: torch.Tensor) -> str:
    """Content hash of a uint8 (N, 3, H, W) image set."""
    h = hashlib.sha256(f"{FEATURES_VERSION}|{tuple(images.shape)}|{images.dtype}".encode())
    h.update(images.contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


def default_cache_dir(kind: str = "inception") -> Path:
    return env.cache_root() / kind


def cached_array(path: Path, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``compute()`` once, stored as float32 .npy at ``path`` (atomically); float64 back either way."""
    if path.is_file():
        return torch.from_numpy(np.load(path, allow_pickle=False)).double()
    values = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: np.save(f, values.float().numpy(), allow_pickle=False))
    return values.float().double()  # same precision as a later cache hit


def cached_rows(images: torch.Tensor, compute: Callable[[torch.Tensor], torch.Tensor], directory: Path,
                prefix: str = "", chunk: int = CACHE_CHUNK, desc: str | None = None) -> torch.Tensor:
    """Per-image results ``compute(images)`` (one row per image), cached on disk in chunks of
    ``chunk`` images keyed by their content. Only chunks never seen are computed, each saved as
    soon as it is done, so a larger n with the same seed, or a rerun after a kill, reuses every
    finished chunk. ``desc``: one progress bar over the images still to compute."""
    spans = [(i, min(i + chunk, len(images))) for i in range(0, len(images), chunk)]
    paths = [directory / f"{prefix}{images_key(images[a:b])}.npy" for a, b in spans]
    missing = [(a, b, path) for (a, b), path in zip(spans, paths) if not path.is_file()]
    todo = sum(b - a for a, b, _ in missing)
    with tqdm(total=todo, desc=desc, unit="img", disable=desc is None or not todo) as bar:
        for a, b, path in missing:
            cached_array(path, lambda: compute(images[a:b]))
            bar.update(b - a)
    if not paths:
        return torch.empty(0, 0, dtype=torch.float64)
    return torch.cat([cached_array(path, None) for path in paths])


def cached_features(images: torch.Tensor, extract: Callable[[torch.Tensor], torch.Tensor],
                    cache_dir: str | os.PathLike | None = None, desc: str | None = None) -> torch.Tensor:
    """Inception features of uint8 ``images``; chunks seen before come from the on-disk cache."""
    return cached_rows(images, extract, Path(cache_dir) if cache_dir is not None else default_cache_dir(), desc=desc)


# ---- memorisation ----------------------------------------------------------------------------

def thumbnails(images: torch.Tensor, size: int = NEAR_COPY_SIZE) -> torch.Tensor:
    """uint8 or [-1, 1] (N, 3, H, W) -> (N, 3 * size * size) float32 in [-1, 1]."""
    x = to_float(images)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="area")
    return x.flatten(1)


def nearest_distances(queries: torch.Tensor, refs: torch.Tensor, *, exclude: torch.Tensor | None = None,
                      chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """RMS distance from each query thumbnail to its nearest ref and that ref's index.
    ``exclude[i]`` is a ref index to skip for query i (leave-one-out)."""
    ref_sq = (refs * refs).sum(1)
    dists, idxs = [], []
    for i in range(0, len(queries), chunk):
        q = queries[i:i + chunk]
        d2 = (q * q).sum(1, keepdim=True) + ref_sq[None] - 2 * q @ refs.T
        if exclude is not None:
            d2[torch.arange(len(q)), exclude[i:i + chunk]] = float("inf")
        best, idx = d2.min(1)
        dists.append(best.clamp_min(0).sqrt() / math.sqrt(refs.shape[1]))
        idxs.append(idx)
    return torch.cat(dists), torch.cat(idxs)


def near_copy_threshold(train: torch.Tensor, *, probes: int | None = None, quantile: float = NEAR_COPY_QUANTILE,
                        seed: int = 0) -> float:
    """The ``quantile`` of real-vs-real nearest-neighbour distances (probe vs all other train images).
    By default every training image is a probe: the 1 % quantile of 1,000 random probes rests on
    10 distances and moved by 30 % between seeds on the cat faces; of all 9,303 it is exact."""
    thumbs = thumbnails(train)
    pick = torch.randperm(len(thumbs), generator=torch.Generator().manual_seed(seed))[:probes or len(thumbs)]
    dist, _ = nearest_distances(thumbs[pick], thumbs, exclude=pick)
    return float(torch.quantile(dist, quantile))


@dataclass(frozen=True)
class NearCopies:
    threshold: float
    fraction: float  # share of generated images closer than threshold to some training image
    median_distance: float
    distances: torch.Tensor  # (N,) nearest-training-image distance per generated image
    nearest: torch.Tensor  # (N,) index of that training image


def near_copies(generated: torch.Tensor, train: torch.Tensor, threshold: float | None = None) -> NearCopies:
    """For each generated image, the distance to the nearest training image; flag near-copies."""
    threshold = near_copy_threshold(train) if threshold is None else threshold
    dist, idx = nearest_distances(thumbnails(generated), thumbnails(train))
    return NearCopies(threshold, float((dist < threshold).float().mean()), float(dist.median()), dist, idx)


# ---- cat-rate --------------------------------------------------------------------------------

def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95 % Wilson score interval for a binomial proportion (no continuity correction)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends: no rounding above 0 / below 1
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return (lo, hi)


def cat_rate(is_cat: list[bool] | torch.Tensor, p_cat: list[float] | torch.Tensor) -> dict:
    """Share judged "cat", its 95 % Wilson interval, and the mean P(cat)."""
    flags = torch.as_tensor(is_cat, dtype=torch.bool)
    k, n = int(flags.sum()), len(flags)
    lo, hi = wilson_interval(k, n)
    return {"cat_rate": k / n if n else float("nan"), "ci95": [lo, hi], "n": n, "cats": k,
            "mean_p_cat": float(torch.as_tensor(p_cat, dtype=torch.float64).mean()) if n else float("nan")}
