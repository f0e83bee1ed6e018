"""Shared fixtures. Real data comes from ../shared/data; a fresh clone without it falls back to
small synthetic images, except under CI=true, where missing real data is a failure."""
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hub_standin import fake_hub  # noqa: F401 - the local stand-in for the Hub's HTTP API, for every test
from PIL import Image
from safetensors import safe_open

from catgan.models import ModelConfig, build_generator

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CATGAN_SHARED", ROOT.parent / "shared"))
CAT_FACES = SHARED / "data" / "cat-faces-64.zip"
CIFAR = SHARED / "data" / "cifar10.zip"


def synthetic_faces(n: int, size: int = 64, seed: int = 0) -> list[Image.Image]:
    """Smooth random 'faces': a coloured disc with two dark eyes on a gradient background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        bg = (rng.uniform(0, 255, 3)[None, None] * (0.5 + 0.5 * yy[..., None])).astype(np.float32)
        cx, cy, r = rng.uniform(0.4, 0.6), rng.uniform(0.4, 0.6), rng.uniform(0.25, 0.4)
        face = ((xx - cx) ** 2 + (yy - cy) ** 2) < r**2
        img = np.where(face[..., None], rng.uniform(80, 255, 3)[None, None], bg)
        for ex in (cx - r / 2.5, cx + r / 2.5):
            eye = ((xx - ex) ** 2 + (yy - cy + r / 4) ** 2) < (r / 6) ** 2
            img[eye] = 20
        out.append(Image.fromarray(img.clip(0, 255).astype(np.uint8), "RGB"))
    return out


class GingerSquares:
    """A short training run's data: ``n`` ginger images at ``size`` px, each with a light square at a
    random place (uint8), whose mean colour is far from what an untrained G draws, and ``n`` latents."""

    def __init__(self, n: int, size: int, z_dim: int = 16, seed: int = 0):
        gen = torch.Generator().manual_seed(seed)
        images = torch.tensor([0.75, 0.45, 0.25]).view(1, 3, 1, 1).repeat(n, 1, size, size)
        side = size // 4
        for k, (y, x) in enumerate(torch.randint(0, size - side, (n, 2), generator=gen).tolist()):
            images[k, :, y:y + side, x:x + side] = 0.9
        self.images = (images * 255).round().to(torch.uint8)
        self.colour = self.images.float().div(127.5).sub(1).mean((0, 2, 3))
        self.z = torch.randn(n, z_dim, generator=gen)

    def colour_gap(self, g: torch.nn.Module) -> float:
        """Mean |G's mean colour - the data's| over RGB, in eval mode (BatchNorm's running statistics);
        G's mode is restored."""
        training = g.training
        with torch.no_grad():
            gap = float((g.eval()(self.z).mean((0, 2, 3)) - self.colour).abs().mean())
        g.train(training)
        return gap


def write_zip(path: Path, images: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in images.items():
            z.writestr(name, data)
    return path


def jpeg_bytes(img: Image.Image, fmt: str = "JPEG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def tiny_generator(seed: int = 0, z_dim: int = 16):
    """A 32 px DCGAN whose images depend strongly on z: DCGAN's N(0, 0.02) init would render every z
    as almost the same grey image."""
    torch.manual_seed(seed)
    generator = build_generator(ModelConfig(arch="dcgan", img_size=32, g_width=8, d_width=8, z_dim=z_dim))
    for m in generator.modules():
        if isinstance(m, torch.nn.ConvTranspose2d):
            torch.nn.init.normal_(m.weight, 0.0, m.in_channels ** -0.5)
    return generator.eval()


def assert_fp16_file_loads_exactly(model: torch.nn.Module, path: Path) -> None:
    """``path`` stores every float tensor as F16 (its header says so, whatever the model's dtype), and
    ``model``, loaded from it, holds exactly those values in fp32, key for key."""
    state = model.state_dict()
    with safe_open(str(path), framework="pt") as f:
        keys = f.keys()
        assert set(keys) == set(state)
        for key in keys:
            stored = f.get_tensor(key)
            if stored.is_floating_point():
                assert f.get_slice(key).get_dtype() == "F16", key
                assert state[key].dtype == torch.float32 and torch.equal(state[key], stored.float()), key
            else:
                assert torch.equal(state[key], stored), key


@pytest.fixture(scope="session")
def real_cats() -> Path | None:
    """Path of the real cat-faces-64.zip, None on a fresh clone, a failure under CI=true."""
    if CAT_FACES.is_file():
        return CAT_FACES
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the real data is missing: {CAT_FACES}")
    return None


@pytest.fixture(scope="session")
def real_cifar() -> Path:
    """Path of the real cifar10.zip: a skip on a fresh clone without it, a failure under CI=true."""
    if CIFAR.is_file():
        return CIFAR
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the real data is missing: {CIFAR}")
    pytest.skip("needs ../shared/data/cifar10.zip")


@pytest.fixture(scope="session")
def cats_zip(real_cats, tmp_path_factory) -> Path:
    """The real cat faces, or a 600-image synthetic stand-in in the same Kaggle layout."""
    if real_cats is not None:
        return real_cats
    path = tmp_path_factory.mktemp("synthetic") / "archive.zip"
    return write_zip(path, {f"cats/{i}.jpg": jpeg_bytes(im) for i, im in enumerate(synthetic_faces(600))})


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session gets its own dataset cache, never the user's ~/.cache."""
    monkeypatch.setenv("CATGAN_CACHE", str(tmp_path_factory.getbasetemp() / "catgan-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def one_thread():
    """torch at one thread for the test, then as it was."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
