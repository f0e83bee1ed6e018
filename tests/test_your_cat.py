"""Your cat: the face is found (or pointed at), its twin found, moved by the sliders, walked from in
Interpolate and judged beside the photo; every error has a message of its own."""
import sys
from pathlib import Path

import gradio_client
import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_app import AppError, Served, forged_png, tiny_weights  # noqa: E402

from catgan import load_generator  # noqa: E402
from catgan.images import pil_to_float, to_pil  # noqa: E402
from catgan.latent.encoder import load_encoder  # noqa: E402
from catgan.latent.perceptual import load_perceptual  # noqa: E402
from catgan.latent.twin import FIND, POINT, WHOLE, FaceSpec, NoFace, face_crop, find_twin  # noqa: E402

SHIPPED = Path(__file__).resolve().parents[1] / "weights" / "dcgan-64"


@pytest.fixture(scope="module")
def chelsea():
    skimage = pytest.importorskip("skimage")
    return Image.fromarray(skimage.data.chelsea())  # 451 x 300, a tabby's face filling most of the frame


@pytest.fixture(scope="module")
def served(tmp_path_factory, chelsea):
    tmp = tmp_path_factory.mktemp("your-cat")
    chelsea.save(tmp / "chelsea.png")
    with Served(tmp, weights_root=tiny_weights(tmp / "weights"), real_source="", quiz_db=tmp / "q.sqlite") as s:
        yield s, tmp


def halves(path):
    """The side-by-side picture's two halves (face, twin) as arrays, less the few columns by the seam
    that bicubic upscaling blends."""
    a = np.asarray(Image.open(path).convert("RGB"), np.int16)
    w = a.shape[1] // 2
    return a[:, :w - 8], a[:, w + 8:]


# ---------------------------------------------------------------- the face

def test_the_face_is_found_pointed_at_or_the_whole_picture(chelsea):
    found, box = face_crop(chelsea, 64, FaceSpec(FIND))
    assert found.size == (64, 64) and box is not None
    cx, cy = box.centre
    assert 150 < cx < 300 and 80 < cy < 220  # chelsea's face: the middle of the photo
    pointed, box = face_crop(chelsea, 64, FaceSpec(POINT, x=0.5, y=0.5, size=1.0))
    by_hand = chelsea.crop((75, 0, 375, 300)).resize((64, 64), Image.Resampling.LANCZOS)
    assert box.size == 300 and np.abs(np.asarray(pointed, float) - np.asarray(by_hand, float)).mean() < 3
    whole, box = face_crop(chelsea, 32, FaceSpec(WHOLE))
    assert whole.size == (32, 32) and box is None
    with pytest.raises(NoFace):
        face_crop(Image.new("RGB", (200, 150), (120, 130, 140)), 64, FaceSpec(FIND))
    with pytest.raises(ValueError, match="face mode"):
        FaceSpec("somewhere")
    with pytest.raises(ValueError, match="fractions"):
        FaceSpec(POINT, x=1.5)


@pytest.mark.skipif(not (SHIPPED / "encoder.safetensors").is_file(), reason="no encoder shipped with dcgan-64")
def test_a_generated_cat_comes_back_as_its_twin():
    """The shipped encoder + the app's refinement: a cat the model drew itself is found again."""
    g = load_generator(SHIPPED).eval()
    encoder = load_encoder(SHIPPED, g)
    with torch.no_grad():
        cat = to_pil(g(torch.randn(1, g.config.z_dim, generator=torch.Generator().manual_seed(7))))[0]
    twin = find_twin(g, cat, encoder, face=FaceSpec(WHOLE), perceptual=load_perceptual())
    assert twin.psnr >= 30, twin.psnr
    assert torch.equal(twin.face, pil_to_float(cat))


@pytest.mark.skipif(not (SHIPPED / "encoder.safetensors").is_file(), reason="no encoder shipped with dcgan-64")
def test_a_real_cat_keeps_the_detail_no_latent_reaches(chelsea):
    """Chelsea was never training data: the latent alone gets the gist, the tuned tail the detail,
    and the shared generator is the same afterwards."""
    g = load_generator(SHIPPED).eval()
    before = {k: v.clone() for k, v in g.state_dict().items()}
    twin = find_twin(g, chelsea, load_encoder(SHIPPED, g), perceptual=load_perceptual())
    assert twin.psnr >= 25 and twin.psnr >= twin.psnr_latent + 4, (twin.psnr, twin.psnr_latent)
    assert 0 < sum(t.numel() for t in twin.tail.values()) <= 1_000_000
    assert all(torch.equal(v, g.state_dict()[k]) for k, v in before.items())


# ---------------------------------------------------------------- in the app

def test_find_move_walk_and_judge_your_cat(served, chelsea):
    server, tmp = served
    c = server.client()
    photo = gradio_client.handle_file(str(tmp / "chelsea.png"))
    pair, info = c.predict(photo, FIND, 0.5, 0.5, 0.5, "dcgan-64", api_name="/your_cat")
    assert Image.open(pair).size == (524, 264)  # two 64 px cells and their 1 px borders, 4x
    assert "found by the cat-face detector" in info and "PSNR" in info and "the latent alone" in info
    assert "dcgan-64" in info
    face, twin = halves(pair)
    moved_face, moved_twin = halves(c.predict(d1=2.5, api_name="/your_cat_slide"))
    assert np.array_equal(face, moved_face) and not np.array_equal(moved_twin, twin)  # the twin moves, not the photo
    _, back_twin = halves(c.predict(api_name="/your_cat_slide"))  # every slider at 0: the twin as found
    assert np.array_equal(back_twin, twin)
    table, map_face, map_twin, about = c.predict("efficientnet_lite0", api_name="/your_cat_score")
    assert [r[0] for r in table["data"]] == ["your cat", "its twin"]
    assert Image.open(map_face).size == Image.open(map_twin).size == (256, 256)  # 64 px, shown at 256
    assert table["data"][0][1] == "cat"  # chelsea's face, as the detector framed it
    assert "efficientnet_lite0" in about
    *_, info = c.predict("your cat", 0, 1, "slerp", 5, 12, "loop", "nearest", "gan-32", 0, 1.0, api_name="/interpolate")
    assert "from your cat to seed 1" in info and "dcgan-64" in info  # the twin's own model
    *_, info = c.predict("seed", 3, 1, "slerp", 5, 12, "loop", "nearest", "dcgan-64", 0, 1.0, end="your cat",
                         api_name="/interpolate")
    assert "from seed 3 to your cat" in info


def test_each_visitor_has_their_own_cat(served):
    server, tmp = served
    mine, theirs = server.client(), server.client()
    mine.predict(gradio_client.handle_file(str(tmp / "chelsea.png")), WHOLE, 0.5, 0.5, 0.5, "dcgan-64",
                 api_name="/your_cat")
    with pytest.raises(AppError, match="Find your cat's twin first"):
        theirs.predict(api_name="/your_cat_slide")
    with pytest.raises(AppError, match="Find your cat's twin in the Your cat tab first"):
        theirs.predict("your cat", 0, 1, "slerp", 5, 12, "loop", "nearest", "dcgan-64", 0, 1.0, api_name="/interpolate")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_errors_say_what_to_do_and_cost_no_memory(served):
    server, tmp = served
    c = server.client()
    grey = tmp / "grey.png"
    Image.new("RGB", (300, 200), (120, 130, 140)).save(grey)
    notes, huge = tmp / "notes.png", tmp / "huge.png"
    notes.write_bytes(b"not an image at all")
    huge.write_bytes(forged_png(5000, 5000))
    cases = [(grey, FIND, "dcgan-64", "No cat face was found.*Click the middle of your cat's face"),
             (notes, FIND, "dcgan-64", "not an image"),
             (huge, FIND, "dcgan-64", "limit is 4096x4096"),
             (tmp / "chelsea.png", WHOLE, "gan-32", "gan-32 has no encoder.*dcgan-64")]
    for path, face, model, message in cases:
        with pytest.raises(AppError, match=message):
            c.predict(gradio_client.handle_file(str(path)), face, 0.5, 0.5, 0.5, model, api_name="/your_cat")
    with pytest.raises(AppError, match="Upload a photo of your cat first"):
        c.predict(None, FIND, 0.5, 0.5, 0.5, "dcgan-64", api_name="/your_cat")
    with pytest.raises(AppError, match="not in the list of choices"):
        c.predict(gradio_client.handle_file(str(grey)), "somewhere", 0.5, 0.5, 0.5, "dcgan-64", api_name="/your_cat")
    with pytest.raises(AppError, match="Face centre, across: send a number from 0 to 1"):
        c.predict(gradio_client.handle_file(str(grey)), POINT, 7, 0.5, 0.5, "dcgan-64", api_name="/your_cat")
    before = rss_mb()
    for _ in range(10):
        for path, face, model, message in cases:
            with pytest.raises(AppError):
                c.predict(gradio_client.handle_file(str(path)), face, 0.5, 0.5, 0.5, model, api_name="/your_cat")
    assert rss_mb() - before < 150, (before, rss_mb())


def test_the_command_line_finds_a_twin_and_says_what_is_missing(tmp_path, chelsea, capsys):
    from catgan import cli
    from catgan.latent import twin

    weights = tiny_weights(tmp_path / "weights")
    chelsea.save(tmp_path / "chelsea.png")
    out = tmp_path / "twin.png"
    assert cli.run(twin.main, [str(tmp_path / "chelsea.png"), "--weights", str(weights / "dcgan-64"), "--steps", "3",
                               "--out", str(out)]) == 0
    assert Image.open(out).size == (2 * 64 + 3 * 2, 64 + 2 * 2) and "PSNR" in capsys.readouterr().out
    assert cli.run(twin.main, [str(tmp_path / "chelsea.png"), "--weights", str(weights / "gan-32")]) == 2
    assert "no encoder.safetensors" in capsys.readouterr().err
    Image.new("RGB", (300, 200), (120, 130, 140)).save(tmp_path / "grey.png")
    assert cli.run(twin.main, [str(tmp_path / "grey.png"), "--weights", str(weights / "dcgan-64")]) == 1
    assert "no cat face was found" in capsys.readouterr().err
    assert cli.run(twin.main, [str(tmp_path / "grey.png"), "--weights", str(weights / "dcgan-64"), "--face", "whole",
                               "--steps", "0", "--out", str(out)]) == 0
