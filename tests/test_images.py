"""catgan.images and catgan.fileio: the one place for each conversion, the one decoder of image files
(its pixel limit, bombs, formats, bounds), and writes never half-done."""
import io
import struct
import zlib

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


# ---------------------------------------------------------------- the one decoder

def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data[16:29], data[29:33] = ihdr, struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def encoded(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("side,kind,words", [
    (4097, images.TooLarge, "4097x4097 pixels; the limit is 4096x4096"),
    (20000, images.TooLarge, "decompression bomb"),
    (0, images.BadImage, "not an image|no image"),  # Pillow itself refuses a 0x0 PNG
])
def test_the_pixel_limit_is_read_from_the_header(side, kind, words):
    with pytest.raises(kind, match=words):
        images.decode_rgb(png_claiming(side, side))


def test_what_is_not_an_image_of_the_known_formats_is_refused_by_name(tmp_path):
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"  # Pillow would run Ghostscript
    for data, words in ((eps, "not an image catgan reads"), (b"", "empty"), (encoded(Image.new("RGB", (64, 64)))[:60],
                                                                              "damaged")):
        with pytest.raises(images.BadImage, match=words):
            images.decode_rgb(data)
    big = tmp_path / "big.png"
    with open(big, "wb") as f:
        f.truncate(images.MAX_FILE_BYTES + 1)  # sparse: the size is refused before a byte is read
    with pytest.raises(images.TooLarge, match="the limit is 64 MB"):
        images.decode_rgb(big)


def test_bytes_and_paths_decode_alike_and_fit_bounds_the_result(tmp_path):
    img = Image.effect_noise((400, 100), 40).convert("RGBA")
    (tmp_path / "a.png").write_bytes(encoded(img))
    rgb = images.decode_rgb(tmp_path / "a.png")
    assert rgb.mode == "RGB" and rgb.size == (400, 100) and not rgb.info
    assert np.array_equal(np.asarray(rgb), np.asarray(images.decode_rgb(encoded(img))))
    assert images.decode_rgb(encoded(img), max_side=64, max_aspect=2).size == (64, 32)  # 200x100, then shrunk
    jpeg = encoded(Image.effect_noise((2048, 2048), 40).convert("RGB"), "JPEG")
    assert images.decode_rgb(jpeg, max_side=300).size == (300, 300)  # decoded at 1/4 scale, then shrunk


def test_image_exts_match_the_formats():
    assert all(ext == ext.lower() and ext.startswith(".") for ext in images.IMAGE_EXTS)
    registered = Image.registered_extensions()
    assert {registered[ext] for ext in images.IMAGE_EXTS} <= set(images.IMAGE_FORMATS) | {"MPO"}
