"""catgan.images and catgan.fileio: the one place for each conversion, and writes never half-done."""
import numpy as np
import pytest
import torch
from PIL import Image

from catgan import images
from catgan.fileio import atomic_write_text


def test_uint8_round_trip_and_range():
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).expand(1, 3, 16, 16)
    f = images.from_uint8(x)
    assert f.dtype == torch.float32 and f.min() == -1 and f.max() == 1
    assert torch.equal(images.to_uint8(f), x)
    assert torch.equal(images.to_float(x), f) and images.to_float(f) is f  # float input passes through
    ones = torch.ones(2)
    assert torch.equal(images.from_uint8(torch.full((2,), 255, dtype=torch.uint8)), ones)


@pytest.mark.parametrize("mode,value,expected", [
    ("RGBA", (255, 0, 0, 0), (255, 255, 255)),  # transparent: white, not black
    ("LA", (0, 255), (0, 0, 0)),
    ("I;16", 65535, (255, 255, 255)),  # 16-bit: the top 8 bits, not clipped
    ("I;16", 32768, (128, 128, 128)),
    ("L", 7, (7, 7, 7)),
    ("CMYK", (0, 0, 0, 0), (255, 255, 255)),
])
def test_to_rgb_handles_every_mode(mode, value, expected):
    img = Image.new(mode, (3, 3), value)
    assert images.to_rgb(img).mode == "RGB" and images.to_rgb(img).getpixel((1, 1)) == expected


def test_palette_transparency_composites_on_white():
    pal = Image.new("P", (4, 4), 0)
    pal.putpalette([10, 20, 30] * 256)
    pal.info["transparency"] = 0
    assert images.to_rgb(pal).getpixel((1, 1)) == (255, 255, 255)


def test_grid_layout_gutters_and_order():
    x = torch.stack([torch.full((3, 4, 4), v) for v in (-1.0, 0.0, 1.0, -1.0, 1.0)])
    grid = np.asarray(images.make_grid(x, nrow=3, pad=2))
    assert grid.shape == (2 * 6 + 2, 3 * 6 + 2, 3)
    assert (grid[0] == 255).all() and (grid[:, 0] == 255).all()  # white gutters
    assert grid[2, 2, 0] == 0 and grid[2, 8, 0] == 128 and grid[8, 8, 0] == 255  # row-major order


def test_an_interrupted_png_save_leaves_no_frame_for_the_gif(tmp_path, monkeypatch):
    """The evolution GIF is built from samples/step_*.png: a save killed half-way must leave no file
    matching that glob (the temp file used to be step_N.tmp.png)."""
    def dies_half_way(self, fp, format=None, **kw):
        fp.write(b"\x89PNG\r\n\x1a\n half a frame")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        images.save_png(Image.new("RGB", (4, 4)), tmp_path / "step_0000010.png")
    assert list(tmp_path.glob("step_*.png")) == [] and list(tmp_path.iterdir()) == []


def test_atomic_text_replaces_whole_files(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two" and [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert oct(path.stat().st_mode & 0o777) == "0o644"
