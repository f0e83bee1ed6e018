"""The app on the open internet: hostile uploads within the limits stay within a memory bound, text
inputs and request bodies have limits, the temp folder a byte budget, typed Hub repo ids a size cap
(checked before downloading) and @REVISION, no page or reply shows an absolute server path; and the
Score tab's default judge is ResNet-50 from the Hub's cache, EfficientNet-Lite0 with a notice offline."""
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
import torch
from PIL import Image

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ["NO_PROXY"] = "127.0.0.1,localhost" + (f",{os.environ['NO_PROXY']}" if os.environ.get("NO_PROXY") else "")
gradio_client = pytest.importorskip("gradio_client")
gradio = pytest.importorskip("gradio")
httpx = pytest.importorskip("httpx")

from conftest import ROOT  # noqa: E402
from hub_standin import closed_port  # noqa: E402
from test_app import Served, tiny_weights  # noqa: E402

import app  # noqa: E402
from app_ui import common, gate, guard, score  # noqa: E402
from catgan.judges import DEFAULT_JUDGE, imagenet, load_judge  # noqa: E402

AppError = gradio_client.exceptions.AppError
GENERIC = "verbose error reporting"  # what a visitor sees when a handler fails without a gr.Error


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return tiny_weights(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, weights):
    with Served(tmp_path_factory.mktemp("app"), weights_root=weights, real_source="",
                quiz_db=tmp_path_factory.mktemp("q") / "quiz.sqlite") as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    return server.client()


# ---------------------------------------------------------------- ResNet-50, the Hub way

def resnet50_snapshot(cache: Path, state: dict | None = None) -> dict:
    """A Hugging Face cache holding timm/resnet50.tv_in1k's model.safetensors: a randomly
    initialised torchvision resnet50, saved as timm saves it (no num_batches_tracked)."""
    from safetensors.torch import save_file
    from torchvision.models import resnet50

    if state is None:
        state = {k: v for k, v in resnet50(weights=None).state_dict().items() if "num_batches" not in k}
    commit = "0" * 40
    folder = cache / "models--timm--resnet50.tv_in1k"
    (folder / "snapshots" / commit).mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)
    save_file(state, folder / "snapshots" / commit / "model.safetensors")
    return state


@pytest.fixture
def resnet_cache(tmp_path, monkeypatch):
    """An HF cache with the ResNet-50 snapshot, offline, no other ResNet-50 weights anywhere."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("CATGAN_RESNET50", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch"))  # empty torchvision cache
    score._judge.cache_clear()
    yield tmp_path / "hf"
    score._judge.cache_clear()


def test_resnet50_loads_strictly_from_the_hub_cache_and_scores(resnet_cache):
    state = resnet50_snapshot(resnet_cache)
    judge = load_judge("resnet50", fallback=False)
    assert judge.name == "resnet50" and judge.weights == f"{imagenet.RESNET50_REPO} (Hub)"
    assert torch.equal(judge.model.fc.weight, state["fc.weight"])
    assert torch.equal(judge.model.layer4[2].bn3.running_var, state["layer4.2.bn3.running_var"])
    (v,) = judge.score([Image.effect_noise((300, 200), 60).convert("RGB")])
    assert len(v.top5) == 5 and 0 <= v.p_cat <= 1


def test_resnet50_snapshot_with_other_keys_is_refused(resnet_cache):
    from torchvision.models import resnet50

    state = resnet50(weights=None).state_dict()
    state["head.fc.weight"] = state.pop("fc.weight")  # timm's newer naming: not torchvision's
    resnet50_snapshot(resnet_cache, state)
    with pytest.raises(ValueError, match="not a resnet50 state dict"):
        load_judge("resnet50", fallback=False)


def test_the_score_tab_defaults_to_resnet50_and_falls_back_with_a_notice(resnet_cache, weights, tmp_path):
    sample = tmp_path / "cat.png"
    Image.effect_noise((64, 64), 60).convert("RGB").save(sample)
    with Served(tmp_path, weights_root=weights, real_source="", quiz_db=tmp_path / "q.sqlite") as s:  # no judge=
        config = httpx.get(s.url + "config").json()
        picker = next(c for c in config["components"] if c["props"].get("label") == "Judge")
        assert picker["props"]["value"] == DEFAULT_JUDGE == "resnet50"  # the dropdown the visitor sees
        c = s.client()  # /score called without a judge: the client sends the dropdown's default
        _, text, _ = c.predict(gradio_client.handle_file(str(sample)), api_name="/score")
        assert "Judge **efficientnet_lite0**" in text and "'resnet50' is unavailable" in text  # offline: the notice
        score._judge.cache_clear()
        resnet50_snapshot(resnet_cache)  # now it is in the cache (a Space preloads it)
        _, text, _ = c.predict(gradio_client.handle_file(str(sample)), api_name="/score")
        assert f"Judge **resnet50**, weights: {imagenet.RESNET50_REPO}" in text and "⚠️" not in text


def test_the_space_preloads_the_resnet50_weights():
    import yaml

    front = (Path(app.__file__).parent / "README.md").read_text().split("---")[1]
    assert f"{imagenet.RESNET50_REPO} model.safetensors" in yaml.safe_load(front)["preload_from_hub"]


# ---------------------------------------------------------------- hostile uploads (memory)

def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width, height, *, depth=8, colour=0, row_bytes=None, before_idat=b"") -> bytes:
    """A PNG of zero rows (a few KB whatever its size), with ``before_idat`` chunks."""
    comp = zlib.compressobj(9)
    row = b"\0" * (1 + (width if row_bytes is None else row_bytes))
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    head = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + head + before_idat + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def text_chunks(kind: bytes, n=200) -> bytes:
    """``n`` chunks of 1 MB of text each, compressed to 1 KB: 200 MB of text in 200 KB."""
    z = zlib.compress(b"a" * (2**20 - 1), 9)
    prefix = b"\0\0" if kind == b"zTXt" else b"\0\1\0\0\0"
    return b"".join(chunk(kind, b"k%d" % i + prefix + z) for i in range(n))


def write_float_tiff(path):
    Image.new("F", (4096, 4096)).save(path, "TIFF", compression="tiff_adobe_deflate")


HOSTILE = {  # name: (writer, what the visitor gets: a score or the words of a clear error)
    "rgba16-4096x4096.png": (lambda p: p.write_bytes(png(4096, 4096, depth=16, colour=6, row_bytes=4096 * 8)), None),
    "grey16-4096x4096.png": (lambda p: p.write_bytes(png(4096, 4096, depth=16, row_bytes=4096 * 2)), None),
    "palette-4096x4096.png": (lambda p: p.write_bytes(png(4096, 4096, colour=3, before_idat=chunk(
        b"PLTE", bytes(range(256)) * 3) + chunk(b"tRNS", bytes(range(256))))), None),
    "float-4096x4096.tif": (write_float_tiff, None),
    "tall-1x4096.png": (lambda p: p.write_bytes(png(1, 4096)), None),
    "wide-16777216x1.png": (lambda p: p.write_bytes(png(4096 * 4096, 1)), None),
    "ztxt-200MB.png": (lambda p: p.write_bytes(png(64, 64, before_idat=text_chunks(b"zTXt"))), "metadata"),
    "itxt-200MB.png": (lambda p: p.write_bytes(png(64, 64, before_idat=text_chunks(b"iTXt"))), "metadata"),
    "iccp-100MB.png": (lambda p: p.write_bytes(png(64, 64, before_idat=chunk(
        b"iCCP", b"icc\0\0" + zlib.compress(b"\0" * 100 * 2**20, 9)))), "metadata"),
}


def vm(key: str) -> float:
    """VmRSS / VmHWM of this process (the server runs in it) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux /proc peak-RSS reset")
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_uploads_stay_within_500_mb(client, tmp_path, name):
    write, error = HOSTILE[name]
    path = tmp_path / name
    write(path)
    assert path.stat().st_size < common.MAX_UPLOAD_MB * 2**20
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    before = vm("VmRSS")
    try:
        _, text, _ = client.predict(gradio_client.handle_file(str(path)), "efficientnet_lite0", api_name="/score")
        outcome = text
    except AppError as e:
        outcome = str(e)
    peak = vm("VmHWM") - before
    assert peak < 500, f"{name}: +{peak:.0f} MB"
    assert GENERIC not in outcome and (error or "P(cat)") in outcome, outcome


# ---------------------------------------------------------------- bounded input

def test_text_inputs_are_bounded_and_errors_do_not_echo_them(client, server):
    long = "x" * 20_000  # within the body limit: reaches the component
    calls = [((long, 0, 1, 1.0, "nearest", 1), "/sample"), (("dcgan-64", 0, 1, 1.0, long, 1), "/sample"),
             ((None, long), "/score"), (("seed", 0, 1, long, 2, 1, "loop", "nearest", "dcgan-64", 0, 1.0),
                                        "/interpolate"), ((long + "/" + long, 0, 1.0), "/send_sample"),
             ((long,), "/quiz_answer")]
    for args, api in calls:
        with pytest.raises(AppError) as err:
            client.predict(*args, api_name=api)
        assert "at most 96 characters" in str(err.value) and len(str(err.value)) < 300, (api, str(err.value)[:300])
    for seed in (2**31, 1e300, 10**400, "abc", [1]):
        with pytest.raises(AppError, match="Seed: send a whole number from 0 to 2147483647"):
            client.predict("dcgan-64", seed, 1, 1.0, "nearest", 1, api_name="/sample")


def raw_call(url: str, api: str, data) -> str:
    """The reply of /gradio_api/call/<api> as sent (server-sent events), without gradio_client's
    uploads and downloads: what a hand-made request gets."""
    event = httpx.post(f"{url}gradio_api/call/{api}", json={"data": data}, timeout=30).json()["event_id"]
    return httpx.get(f"{url}gradio_api/call/{api}/{event}", timeout=120).text


SLIDERS = [0] * 14  # d1..d6, pc1..pc8: what gradio_client fills in


def test_each_client_may_make_each_call_only_so_often(server, tmp_path, monkeypatch):
    monkeypatch.setitem(gate.RATES, "send_sample", 3)
    monkeypatch.setattr(gate, "CALLS", gate.Window(60.0))

    def visitor(address):
        return gradio_client.Client(server.url, analytics_enabled=False, verbose=False, download_files=str(tmp_path),
                                    headers={"X-Forwarded-For": address})

    mine, theirs = visitor("203.0.113.7"), visitor("203.0.113.8")
    for _ in range(3):
        mine.predict("dcgan-64", 1, 1.0, api_name="/send_sample")
    with pytest.raises(AppError, match="faster than this app can serve everyone"):
        mine.predict("dcgan-64", 1, 1.0, api_name="/send_sample")
    theirs.predict("dcgan-64", 1, 1.0, api_name="/send_sample")  # another address is not held back
    mine.predict("dcgan-64", 1, 1, 1.0, "nearest", 1, api_name="/sample")  # nor another call


def test_refusals_log_one_short_line_and_echo_nothing(client, server, capfd, monkeypatch):
    monkeypatch.setattr(gate, "REFUSALS", gate.Refusals())  # a fresh minute
    capfd.readouterr()
    side = ["left"] * 6000  # ~48 KB: under the body limit, so it reaches the app
    for _ in range(5):
        with pytest.raises(AppError) as err:
            client.predict(side, api_name="/quiz_answer")
        assert "Side: send a text of at most 96 characters" in str(err.value) and len(str(err.value)) < 200
    tiny = raw_call(server.url, "sample", ["dcgan-64"])  # too few values: Gradio's own ValueError before
    assert "/sample takes 20 values" in tiny and len(tiny) < 300
    for bad in ("abc", None, [8], 9, 8.5, 512, True):
        with pytest.raises(AppError, match=r"Images per row: send a whole number from 8 to 256 in steps of 8"):
            client.predict("dcgan-64", "efficientnet_lite0", bad, api_name="/batch")
    log = capfd.readouterr().err
    assert "Traceback" not in log and "left', 'left" not in log, log[:2000]
    assert log.count("refused") == 1 and len(log) < 300, log[:2000]  # 13 refusals: one line this minute


def test_repeated_refusals_are_counted_and_logged_once_a_minute():
    now, lines = [0.0], []
    refusals = gate.Refusals(every_s=60, clock=lambda: now[0], say=lambda text, *args: lines.append(text % args))
    for i in range(1000):
        now[0] = i * 0.1  # 1,000 refusals in 100 s
        refusals.note("quiz_answer", "Side: at most 96 characters, please.")
    assert len(lines) == 3 and "refused 599 more requests in the last 60 s (quiz_answer 599)" in lines[1], lines


def test_forged_files_and_wrong_types_get_a_message_of_their_own(server):
    forged = {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}
    for api, data in (("score", [forged, "efficientnet_lite0"]), ("compare", [forged]),
                      ("score", [{"url": "http://127.0.0.1:9/cat.png", "meta": {"_type": "gradio.FileData"}},
                                 "efficientnet_lite0"]), ("score", [[forged] * 50, "efficientnet_lite0"])):
        reply = raw_call(server.url, api, data)
        assert "Image: " in reply and ("not uploaded here" in reply or "send a file" in reply), reply
        assert GENERIC not in reply and "passwd" not in reply
    reply = raw_call(server.url, "sample", ["dcgan-64", "abc", 1, 1.0, "nearest", 1, *SLIDERS])
    assert "Seed: send a whole number" in reply, reply


def test_a_served_map_is_never_rewritten_by_the_next_visitor(tmp_path):
    """Gradio writes a returned PIL image to a cache file named by its hash, in place: a second
    visitor scoring the same image truncated the file a first one was downloading (1 of 98 /score
    downloads cut short at 32 users). Maps and strips are PNG files of their own instead."""
    image = Image.effect_noise((64, 64), 60).convert("RGB")
    _, _, first = score.score_image(image, "efficientnet_lite0")
    before = (Path(first).read_bytes(), os.stat(first).st_mtime_ns)
    _, _, second = score.score_image(image, "efficientnet_lite0")
    assert Path(first).parent != Path(second).parent and Path(second).read_bytes() == before[0]
    assert (Path(first).read_bytes(), os.stat(first).st_mtime_ns) == before


def test_batches_are_chunked_cached_and_leave_score_free(server, client, weights, tmp_path, monkeypatch):
    judge, _ = score.get_judge("efficientnet_lite0")
    sizes = []
    inner = judge.score
    monkeypatch.setattr(judge, "score", lambda images, **kw: sizes.append(len(images)) or inner(images, **kw))
    monkeypatch.setattr(score, "_TABLES", type(score._TABLES)())
    models = app.Models(common.Settings(weights, app.find_sources(weights)[0]))
    rows, _ = score.batch_table(models, "dcgan-64", "efficientnet_lite0", 64)
    assert sum(sizes) == 64 and max(sizes) <= score.CHUNK  # bounded chunks
    assert score.batch_table(models, "dcgan-64", "efficientnet_lite0", 64)[0] == rows and sum(sizes) == 64  # cached
    sample = tmp_path / "cat.png"
    Image.effect_noise((64, 64), 60).convert("RGB").save(sample)
    batch = client.submit("dcgan-64", "efficientnet_lite0", 248, api_name="/batch")  # a few seconds of work
    time.sleep(1.0)
    _, text, _ = client.predict(gradio_client.handle_file(str(sample)), "efficientnet_lite0", api_name="/score")
    assert "P(cat)" in text and not batch.done()  # /score did not wait for the whole batch
    assert batch.result()[0]["data"][0][1] == 248


def test_request_bodies_are_bounded(server):
    r = httpx.post(server.url + "gradio_api/queue/join", json={"data": ["x" * 2**20], "fn_index": 0,
                                                                   "session_hash": "abc"}, timeout=30)
    assert r.status_code == 413
    r = httpx.post(server.url + "gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "abc"},
                   timeout=30)
    assert r.status_code != 413


# ---------------------------------------------------------------- bounded disk

def test_the_temp_folder_keeps_its_budget_oldest_first(tmp_path):
    budget = guard.DiskBudget(tmp_path, max_bytes=10_000, rescan_s=float("inf"))
    for i in range(30):  # 30 KB written in 1 KB files, the oldest first
        budget.make_room(1000)
        (tmp_path / f"d{i}").mkdir()
        (tmp_path / f"d{i}" / "f").write_bytes(b"x" * 1000)
        os.utime(tmp_path / f"d{i}" / "f", (1000 + i, 1000 + i))
        assert budget.usage() <= 10_000
    (tmp_path / "unannounced").write_bytes(b"x" * 5000)  # e.g. Gradio's own copies, written earlier
    os.utime(tmp_path / "unannounced", (999, 999))
    (tmp_path / "fresh").mkdir()  # out_dir() made it; its file is being written: it must stay
    budget.rescan_s = 0
    budget.make_room(0)  # a stale scan: redone in the background
    settled(budget)
    assert budget.usage() <= 10_000 and not (tmp_path / "unannounced").exists() and (tmp_path / "d29").exists()
    assert (tmp_path / "fresh").is_dir()
    assert (tmp_path / "d29" / "f").exists() and not (tmp_path / "d0").exists()


def test_a_visitor_over_their_share_is_told_to_slow_down_and_evicts_no_one(tmp_path):
    budget = guard.DiskBudget(tmp_path, max_bytes=40_000, rescan_s=float("inf"), min_age_s=60, share=4)
    (tmp_path / "old").write_bytes(b"x" * 30_000)  # two minutes old: may go
    os.utime(tmp_path / "old", (time.time() - 120,) * 2)
    budget.make_room(5000, "1.2.3.4")  # 10 KB with Gradio's copy: the client's whole share
    (tmp_path / "theirs").write_bytes(b"x" * 10_000)  # another visitor's fresh file
    with pytest.raises(gradio.Error, match="slow down"):
        budget.make_room(1000, "1.2.3.4")
    budget.make_room(5000, "5.6.7.8")  # someone else still has room: the old file goes, not the fresh one
    assert not (tmp_path / "old").exists() and (tmp_path / "theirs").exists()
    (tmp_path / "mine").write_bytes(b"x" * 30_000)
    budget.scanned_at = 0  # not announced: the next call rescans
    with pytest.raises(gradio.Error, match="try again in a minute"):  # only fresh files: none may go
        budget.make_room(2000, "9.9.9.9")
    assert (tmp_path / "theirs").exists() and (tmp_path / "mine").exists()


def test_one_visitor_flooding_the_temp_folder_leaves_the_others_files(server, monkeypatch):
    budget = common.BUDGET.usage() + 8 * 2**20  # 8 MB more than this process's tests left there
    monkeypatch.setattr(common.BUDGET, "max_bytes", budget)
    monkeypatch.setattr(common.BUDGET, "share", budget // (2 * 2**20))  # 2 MB per visitor per minute
    monkeypatch.setattr(common.BUDGET, "recent", type(common.BUDGET.recent)(common.BUDGET.recent.default_factory))

    def visitor(address):
        return gradio_client.Client(server.url, analytics_enabled=False, verbose=False,
                                    download_files=False, headers={"X-Forwarded-For": address})

    calm, flood = visitor("198.51.100.7"), visitor("203.0.113.9")
    kept = calm.predict("dcgan-64", 1, 4, 1.0, "nearest", 1, api_name="/sample")[0]
    refused = None
    for seed in range(40):  # 16 cats at 2x: 1.6 MB announced each (with Gradio's copy)
        try:
            flood.predict("dcgan-64", seed, 16, 1.0, "nearest", 2, api_name="/sample")
        except AppError as e:
            refused = str(e)
            break
    assert refused is not None and "slow down" in refused, refused
    assert httpx.get(kept["url"]).status_code == 200  # the calm visitor's picture is still there
    calm.predict("dcgan-64", 2, 4, 1.0, "nearest", 1, api_name="/sample")  # and they can still ask for more


def settled(budget):
    for _ in range(200):
        if not budget.scanning:
            return
        time.sleep(0.05)
    raise AssertionError("the background rescan did not finish in 10 s")


@pytest.mark.slow
def test_the_app_keeps_its_temp_folder_in_budget(weights, tmp_path):
    """`python app.py --temp-budget-mb 3` with a temp folder of its own, sent uploads and asked for
    grids until it has written 10x its budget."""
    temp, port = tmp_path / "temp", closed_port()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(temp), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "app.py", "--weights", str(weights), "--real", "", "--port", str(port),
                             "--temp-budget-mb", "3", "--temp-min-age-s", "0", "--judge", "efficientnet_lite0"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(240):
            try:
                c = gradio_client.Client(url, analytics_enabled=False, verbose=False,
                                         download_files=str(tmp_path / "dl"))
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.25)
        upload = tmp_path / "noise.png"
        Image.effect_noise((700, 700), 90).convert("RGB").save(upload)  # 1.4 MB that PNG can't shrink
        peak = 0
        for seed in range(10):  # each round: an upload, a grid of 64 cats and Gradio's copy of it, ~3 MB
            c.predict(gradio_client.handle_file(str(upload)), "efficientnet_lite0", api_name="/score")
            c.predict("dcgan-64", seed, 64, 1.0, "nearest", 1, api_name="/sample")
            peak = max(peak, guard.DiskBudget(temp).usage())
        assert peak <= 3 * 2**20 + 3 * 2**20, peak / 2**20  # + at most the files of one round
    finally:
        proc.terminate()
        proc.wait(30)


# ---------------------------------------------------------------- typed Hub repo ids

def put_repo(fake, repo_id: str, folder: Path, branch: str = "v1") -> None:
    """``folder``'s files as the main branch and ``branch`` of ``repo_id`` on the stand-in."""
    repo = fake.repos[repo_id] = {"refs": {}, "commits": {}, "private": False, "sdk": None}
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    repo["refs"]["main"] = repo["refs"][branch] = fake._commit(repo, None, files, "weights")


def test_typed_repo_ids_take_a_revision_and_a_size_cap(fake_hub, weights, tmp_path, monkeypatch):
    put_repo(fake_hub, "me/catgan-gan-32", weights / "gan-32")
    settings = common.Settings(tmp_path / "none")  # nothing listed: the id is typed
    monkeypatch.setattr(common, "OUT_ROOT", tmp_path / "temp" / "catgan")
    common._load_typed.cache_clear()
    key, loaded = common.load_model(settings, "me/catgan-gan-32@v1")
    assert key == "me/catgan-gan-32@v1" and loaded.origin == "hub" and loaded.generator.config.img_size == 32
    common._load_typed.cache_clear()
    monkeypatch.setattr(common, "MAX_TYPED_MB", 0.01)  # 10 KB: the tiny generator is larger
    fake_hub.requests.clear()
    with pytest.raises(gradio.Error, match=r"model.safetensors of me/catgan-gan-32 is 0 MB; this app loads at most"):
        common.load_model(settings, "me/catgan-gan-32")
    fetched = [r for r in fake_hub.requests if r["method"] == "GET" and r["path"].endswith("model.safetensors")]
    assert not fetched  # refused from the stated size, before any download
    common._load_typed.cache_clear()
    with common._TYPED_SLOT:  # another visitor's typed model is loading: no second worker waits on the Hub
        with pytest.raises(gradio.Error, match="another typed model is loading"):
            common.load_model(settings, "me/catgan-gan-32@v1")


# ---------------------------------------------------------------- no absolute server paths

def test_no_absolute_server_paths_on_the_page_config_or_replies(tmp_path, cats_zip):
    root, home = str(Path(app.__file__).resolve().parent), str(Path.home())
    sample = tmp_path / "cat.png"
    Image.effect_noise((64, 64), 60).convert("RGB").save(sample)
    with Served(tmp_path, weights_root=Path(app.__file__).parent / "weights", real_source=str(cats_zip.resolve()),
                real_limit=50, quiz_db=tmp_path / "q.sqlite") as s:  # the shipped weights, under the repository
        c = s.client()
        upload = httpx.post(s.url + "gradio_api/upload", files={"files": ("cat.png", sample.read_bytes())}).text
        texts = [httpx.get(s.url).text, httpx.get(s.url + "config").text, upload,
                 repr(c.predict("dcgan-64", 1, 1, 1.0, "nearest", 1, api_name="/sample")[1]),
                 repr(c.predict("seed", 0, 1, "slerp", 3, 5, "loop", "nearest", "gan-32", 0, 1.0,
                                api_name="/interpolate")[-1]),
                 repr(c.predict(gradio_client.handle_file(str(sample)), api_name="/compare")),
                 raw_call(s.url, "sample", ["dcgan-64", 1, 1, 1.0, "nearest", 1, *SLIDERS]),
                 raw_call(s.url, "interpolate", ["seed", 0, 1, "slerp", 3, 5, "loop", "nearest", "gan-32", 0, 1.0,
                                                 None, "seed", *SLIDERS]),  # None: your cat (server state)
                 raw_call(s.url, "quiz_new", [None])]
        assert f"Real photos: `{cats_zip.name}`" in texts[1]  # the quiz's source by its name only
        for reply in texts[-3:]:  # file outputs: served from the alias, so a client can still fetch them
            url = reply.split('"url": "', 1)[1].split('"', 1)[0]
            assert "/file=catgan-files/" in url and httpx.get(url).status_code == 200, reply[:500]
        score_reply = raw_call(s.url, "score", [{"path": upload.split('"')[1], "meta": {"_type": "gradio.FileData"}},
                                                "efficientnet_lite0"])
        assert "P(cat)" in score_reply, score_reply[:500]  # an uploaded file named by the alias is accepted
        for name in ("../x", "nobody/x"):
            with pytest.raises(AppError) as err:
                c.predict(name, 0, 1, 1.0, "nearest", 1, api_name="/sample")
            texts.append(str(err.value))
    for text in texts:
        assert root not in text and home not in text and guard.TEMP_ROOT not in text, text[:2000]
    assert "weights/dcgan-64" in texts[1]  # the models are still named, by repository-relative paths
