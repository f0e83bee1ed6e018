"""catgan.latent: seeded latents, GANSpace directions, interpolation paths, MP4 writing."""
import pytest
import torch
from PIL import Image

from catgan import latent
from catgan.images import write_mp4
from catgan.models import ModelConfig, build_generator


@pytest.fixture(scope="module", params=["dcgan", "gan"])
def generator(request):
    torch.manual_seed(0)
    return build_generator(ModelConfig(arch=request.param, img_size=32, z_dim=16, g_width=8, d_width=8)).eval()


def test_latents_are_seeded_prefix_stable_and_truncated():
    a, b = latent.latents(16, 4, seed=3), latent.latents(16, 9, seed=3)
    assert a.shape == (4, 16) and torch.equal(a, b[:4])  # latent i does not depend on the grid size
    assert not torch.equal(a, latent.latents(16, 4, seed=4))
    assert torch.allclose(latent.latents(16, 4, seed=3, truncation=0.5), 0.5 * a)
    assert torch.count_nonzero(latent.latents(16, 4, seed=3, truncation=0.0)) == 0


def test_directions_are_unit_ranked_and_move_the_features(generator):
    d = latent.principal_directions(generator, k=4, samples=512)
    assert d.vectors.shape == (4, 16) and len(d) == 4
    assert torch.allclose(d.vectors.norm(dim=1), torch.ones(4), atol=1e-5)
    assert list(d.explained) == sorted(d.explained, reverse=True) and 0 < sum(d.explained) <= 1 + 1e-6
    assert d.labels()[0].startswith("PC1 (") and "% of variance" in d.labels()[0]
    head, _ = generator.early_features()
    z = latent.latents(16, 64, seed=1)
    with torch.no_grad():
        before = head(z).flatten(1)
        after = head(d.apply(z, [3.0])).flatten(1)
    assert (after - before).norm() > 0  # the first slider changes what the generator computes
    assert torch.equal(d.apply(z, [0.0] * 8), z)  # all sliders at zero: the sample itself


def test_directions_are_cached_per_key(generator):
    key = f"test-{generator.config.arch}"
    first = latent.cached_directions(key, generator, 3)
    assert latent.cached_directions(key, generator, 3) is first


def test_slerp_and_lerp_hit_the_endpoints_and_slerp_keeps_the_norm():
    a, b = latent.latents(16, 2, seed=0)
    for fn in (latent.lerp, latent.slerp):
        z = fn(a, b, torch.linspace(0, 1, 5))
        assert torch.allclose(z[0], a, atol=1e-5) and torch.allclose(z[-1], b, atol=1e-5)
    b_same_norm = b / b.norm() * a.norm()
    mid = latent.slerp(a, b_same_norm, torch.tensor([0.5]))[0]
    assert mid.norm() == pytest.approx(a.norm().item(), rel=1e-4)  # lerp's midpoint would be shorter
    assert torch.allclose(latent.slerp(a, a, torch.linspace(0, 1, 3)), a.expand(3, -1))  # parallel: no NaN


def test_path_modes():
    a, b = latent.latents(16, 2, seed=0)
    assert latent.path(a, b, 10, mode="loop").shape == (10, 16)
    pp = latent.path(a, b, 10, method="lerp", mode="ping-pong")
    assert pp.shape == (18, 16) and torch.allclose(pp[1], pp[-1]) and torch.allclose(pp[9], b)
    with pytest.raises(ValueError):
        latent.path(a, b, 1)
    with pytest.raises(ValueError):
        latent.path(a, b, 5, method="cubic")


def test_write_mp4_is_h264_with_every_frame(tmp_path):
    import imageio.v2 as imageio

    frames = [Image.new("RGB", (64, 64), (i * 20, 100, 255 - i * 20)) for i in range(12)]
    path = write_mp4(frames, tmp_path / "x.mp4", fps=12)
    data = path.read_bytes()
    assert data[4:8] == b"ftyp" and b"avc1" in data  # an MP4 holding H.264
    assert not list(tmp_path.glob("*.tmp.mp4"))
    with imageio.get_reader(path, format="FFMPEG") as reader:
        assert sum(1 for _ in reader) == 12
