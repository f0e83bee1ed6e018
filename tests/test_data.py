import math
import zipfile

import numpy as np
import pytest
import torch
from conftest import jpeg_bytes, synthetic_faces, write_zip
from PIL import Image, ImageDraw

from catgan.data.dataset import DataError, load_images
from catgan.images import decode_rgb


def test_kaggle_zip_layout(tmp_path):
    faces = synthetic_faces(5)
    z = write_zip(tmp_path / "archive.zip", {f"cats/{i}.jpg": jpeg_bytes(f) for i, f in enumerate(faces)})
    s = load_images(z, 32, cache_dir=tmp_path / "c", progress=False)
    assert s.images.shape == (5, 3, 32, 32) and s.images.dtype == torch.uint8
    assert not s.unreadable and "5 images" in s.report()


def test_folder_is_searched_recursively_and_cached(tmp_path):
    for i, f in enumerate(synthetic_faces(4)):
        d = tmp_path / "photos" / ("a" if i % 2 else "b/deeper")
        d.mkdir(parents=True, exist_ok=True)
        f.save(d / f"{i}.png")
    (tmp_path / "photos" / "notes.txt").write_text("not an image")
    first = load_images(tmp_path / "photos", 64, cache_dir=tmp_path / "c", progress=False)
    second = load_images(tmp_path / "photos", 64, cache_dir=tmp_path / "c", progress=False)
    assert len(first) == 4 and not first.from_cache and second.from_cache
    assert torch.equal(first.images, second.images)
    # changing one file's content changes the cache key: the set is decoded again
    synthetic_faces(1, seed=9)[0].save(tmp_path / "photos" / "a" / "1.png")
    third = load_images(tmp_path / "photos", 64, cache_dir=tmp_path / "c", progress=False)
    assert not third.from_cache and not torch.equal(first.images, third.images)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16", "LA", "1"])
def test_modes_convert_to_rgb(mode, tmp_path):
    base = synthetic_faces(1)[0]
    if mode == "I;16":
        grey = np.asarray(base.convert("L"), dtype=np.uint16) * 257  # full 16-bit range
        img = Image.fromarray(grey)  # uint16 -> mode I;16
        fmt = "PNG"
        expect = np.asarray(base.convert("L"))
    elif mode == "RGBA":
        img = base.convert("RGBA")
        img.putalpha(0)  # fully transparent -> composited onto white
        fmt, expect = "PNG", np.full((64, 64), 255)
    else:
        img, fmt = base.convert(mode), "TIFF" if mode == "CMYK" else "PNG"
        expect = np.asarray(img.convert("RGB").convert("L"))
    rgb = decode_rgb(jpeg_bytes(img, fmt))
    assert rgb.mode == "RGB" and rgb.size == (64, 64)
    assert np.abs(np.asarray(rgb.convert("L"), dtype=int) - expect).mean() < 3


def test_palette_transparency_and_gif_first_frame(tmp_path):
    red, blue = Image.new("RGB", (40, 40), (255, 0, 0)), Image.new("RGB", (40, 40), (0, 0, 255))
    gif = jpeg_bytes(red, "GIF", save_all=True, append_images=[blue])
    assert decode_rgb(gif).getpixel((5, 5)) == (255, 0, 0)
    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([0, 0, 0, 10, 200, 10])
    pal.info["transparency"] = 0  # index 0 (black) is transparent -> white, not black
    assert decode_rgb(jpeg_bytes(pal, "PNG")).getpixel((1, 1)) == (255, 255, 255)
    for fmt in ("BMP", "WEBP"):
        assert decode_rgb(jpeg_bytes(red, fmt, **({"lossless": True} if fmt == "WEBP" else {}))).getpixel((3, 3)) == (255, 0, 0)


def test_square_crop_and_antialiasing(tmp_path):
    # a 1-px checkerboard, wide: the centre square is kept and the resize averages it to grey
    checker = (np.indices((256, 512)).sum(0) % 2 * 255).astype(np.uint8)
    Image.fromarray(checker).save(tmp_path / "c.png")
    arr = load_images(tmp_path, 32, cache_dir=tmp_path / "c", progress=False).images[0].float()
    assert arr.shape == (3, 32, 32)
    assert abs(arr.mean().item() - 127.5) < 3 and arr.std().item() < 6  # aliasing would give stripes


def test_unreadable_files_are_skipped_and_counted(tmp_path):
    good = jpeg_bytes(synthetic_faces(1)[0])
    z = write_zip(tmp_path / "a.zip", {"cats/ok.jpg": good, "cats/trunc.jpg": good[: len(good) // 3],
                                        "cats/garbage.png": b"not a png at all"})
    s = load_images(z, 32, cache_dir=tmp_path / "c", progress=False)
    assert len(s) == 1 and sorted(s.unreadable) == ["cats/garbage.png", "cats/trunc.jpg"]
    assert "skipped 2 unreadable" in s.report()


def test_clear_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist: .*nope"):
        load_images(tmp_path / "nope", 32, progress=False)
    write_zip(tmp_path / "empty.zip", {"readme.txt": b"hi"})
    with pytest.raises(DataError, match="no images .* found in .*empty.zip"):
        load_images(tmp_path / "empty.zip", 32, progress=False)
    (tmp_path / "dir").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_images(tmp_path / "dir", 32, progress=False)
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(DataError, match="not a folder or a .zip"):
        load_images(tmp_path / "x.txt", 32, progress=False)
    z = write_zip(tmp_path / "bad.zip", {"cats/a.jpg": b"junk"})
    with pytest.raises(DataError, match="no readable images in .*bad.zip"):
        load_images(z, 32, cache_dir=tmp_path / "c", progress=False)


# -- Crawford "Cat Dataset" layout -------------------------------------------------------
UPRIGHT = np.array([(-20, -10), (20, -10), (0, 20),  # left eye, right eye, mouth
                    (-38, -25), (-32, -60), (-12, -38), (12, -38), (32, -60), (38, -25)], float)


def crawford_photo(angle_deg: float, scale: float, size=(300, 260)) -> tuple[Image.Image, np.ndarray]:
    """A photo whose face (eye/mouth dots) is tilted by angle_deg; returns it and its 9 landmarks."""
    t = math.radians(angle_deg)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    pts = UPRIGHT * scale @ rot.T + np.array(size) / 2
    img = Image.new("RGB", size, (120, 120, 120))
    draw = ImageDraw.Draw(img)
    for (x, y), colour in zip(pts[:3], [(255, 0, 0), (0, 0, 255), (0, 255, 0)]):
        r = 4 * scale
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    return img, pts


def blob_centre(arr: np.ndarray, channel: int) -> np.ndarray:
    others = [c for c in range(3) if c != channel]
    mask = (arr[channel] > 180) & (arr[others[0]] < 90) & (arr[others[1]] < 90)
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def test_crawford_landmark_crop_is_upright(tmp_path):
    root = tmp_path / "CAT_00"
    root.mkdir()
    for i, (angle, scale) in enumerate([(30, 2.0), (-25, 1.5), (0, 0.3)]):  # the last face is tiny
        img, pts = crawford_photo(angle, scale)
        img.save(root / f"{i}.jpg", quality=95)
        (root / f"{i}.jpg.cat").write_text("9 " + " ".join(str(int(round(v))) for v in pts.ravel()) + " ")
    s = load_images(tmp_path, 64, cache_dir=tmp_path / "c", progress=False)
    assert len(s) == 2 and s.too_small == 1 and "smaller than 64px" in s.report()
    for arr in s.images.numpy():
        left, right, mouth = blob_centre(arr, 0), blob_centre(arr, 2), blob_centre(arr, 1)
        assert left[0] < right[0] and abs(left[1] - right[1]) < 2.5  # eyes level after rotation
        assert mouth[1] > left[1] + 5 and abs(mouth[0] - (left[0] + right[0]) / 2) < 3


def test_real_cat_faces_subset(real_cats, tmp_path):
    if real_cats is None:
        pytest.skip("../shared/data is not here (fresh clone)")
    s = load_images(real_cats, 32, limit=512, cache_dir=tmp_path / "c", progress=False)
    assert s.images.shape == (512, 3, 32, 32) and not s.unreadable
    assert 60 < s.images.float().mean() < 200  # real photos, not blank
    with zipfile.ZipFile(real_cats) as z:
        assert sum(n.endswith(".jpg") for n in z.namelist()) == 9303


def test_training_data_shares_the_one_pixel_limit(tmp_path):
    """catgan.images.MAX_PIXELS (4096x4096) holds for data as for uploads: a 4100x4100 photo is skipped."""
    z = write_zip(tmp_path / "a.zip", {"cats/big.png": jpeg_bytes(Image.new("L", (4100, 4100)), "PNG"),
                                        "cats/ok.jpg": jpeg_bytes(synthetic_faces(1)[0])})
    s = load_images(z, 32, cache_dir=tmp_path / "c", progress=False)
    assert len(s) == 1 and s.too_large == ["cats/big.png"]
