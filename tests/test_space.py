"""catgan.hub.space and catgan.quiz.sync against the local stand-in for the Hub (tests/hub_standin.py):
one-commit deploys of exactly the Space's files, private photo sets the quiz reads back, and quiz
answers that survive restarts, each counted once."""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, synthetic_faces
from hub_standin import TOKEN
from PIL import Image

from catgan import quiz
from catgan.cli import run
from catgan.hub import space
from catgan.quiz import sync as quiz_sync

SPACE = "spaces/me/catgan"


def write(root: Path, rel: str, data: bytes | str = b"x") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


@pytest.fixture
def app_root(tmp_path) -> Path:
    """A checkout in miniature: what a Space needs, and everything it must not get."""
    root = tmp_path / "checkout"
    front = "---\ntitle: catgan\nsdk: gradio\napp_file: app.py\nlicense: mit\n---\n\n# catgan\n"
    for rel, data in {"app.py": "print('app')\n", "README.md": front, "LICENSE": "MIT\n",
                      "requirements.txt": "gradio\n", "app_ui/__init__.py": "", "app_ui/quiz_tab.py": "x = 1\n",
                      "catgan/__init__.py": "", "catgan/models/dcgan.py": "y = 2\n",
                      "weights/dcgan-64/config.json": "{}", "weights/dcgan-64/model.safetensors": b"\0weights",
                      "weights/dcgan-64/samples.png": b"\x89PNG", "weights/gan-32/config.json": "{}",
                      "weights/gan-32/model.safetensors": b"\0w32",
                      # none of these may reach a Space
                      "requirements-dev.txt": "pytest\n", "app_ui/__pycache__/quiz_tab.cpython-311.pyc": b"\0",
                      "catgan/notes.txt": "draft", "catgan/.scratch.py": "", "tests/test_app.py": "",
                      "bench/app_load.py": "", "docs/results.md": "", "train.py": "", ".env": f"HF_TOKEN={TOKEN}",
                      ".venv/lib/site.py": "", "runs/dcgan-64/checkpoint.pt": b"\0", "weights/notes/readme.txt": "",
                      "weights/dcgan-64/.DS_Store": b"\0"}.items():
        write(root, rel, data)
    git(root, "init", "-q")
    git(root, "add", "app.py", "README.md", "LICENSE", "requirements.txt", "requirements-dev.txt", "app_ui/*.py",
        "catgan", "tests", "bench", "docs", "train.py", "weights")  # what a clone tracks: no .env, .venv, runs/
    # stray files in the checkout, never committed: none may reach a Space either
    for rel in ("catgan/local_secrets.py", "weights/dcgan-64/token.txt", "weights/gan-32/checkpoint.pt"):
        write(root, rel, f"HF_TOKEN={TOKEN}")
    return root


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


EXPECTED = ["LICENSE", "README.md", "app.py", "app_ui/__init__.py", "app_ui/quiz_tab.py", "catgan/__init__.py",
            "catgan/models/dcgan.py", "requirements.txt", "weights/dcgan-64/config.json",
            "weights/dcgan-64/model.safetensors", "weights/dcgan-64/samples.png", "weights/gan-32/config.json",
            "weights/gan-32/model.safetensors"]


def test_deploy_is_one_commit_of_exactly_the_space_files_and_then_none(fake_hub, app_root, tmp_path, capsys,
                                                                         monkeypatch):
    monkeypatch.setattr(space, "ROOT", app_root)
    assert space.main(["deploy", "me/catgan", "--private"]) == 0
    repo = fake_hub.repos[SPACE]
    assert repo["sdk"] == "gradio" and repo["private"] and len(repo["commits"]) == 2  # created + one commit
    head = fake_hub.head(SPACE)
    assert head["added"] == EXPECTED and head["message"] == "Deploy catgan"
    assert sorted(fake_hub.files(SPACE)) == sorted([".gitattributes", *EXPECTED])
    assert all(fake_hub.files(SPACE)[f] == (app_root / f).read_bytes() for f in EXPECTED)
    assert "pushed 13 files" in capsys.readouterr().out
    # the same files again: no commit
    assert space.main(["deploy", "me/catgan"]) == 0
    assert len(repo["commits"]) == 2 and "already up to date, no new commit" in capsys.readouterr().out
    # a weights folder left out, a module changed: one commit, and the Space holds exactly the new list
    write(app_root, "catgan/models/dcgan.py", "y = 3\n")
    done = space.deploy("me/catgan", weights=["dcgan-64"], root=app_root)
    head = fake_hub.head(SPACE)
    assert done.changed and len(repo["commits"]) == 3 and head["added"] == ["catgan/models/dcgan.py"]
    assert head["deleted"] == ["weights/gan-32/config.json", "weights/gan-32/model.safetensors"]
    # the token travelled only in Authorization headers; staging left nothing behind
    for r in fake_hub.requests:
        assert TOKEN not in r["path"] and TOKEN.encode() not in r["body"]
    assert all(TOKEN.encode() not in blob for blob in fake_hub.files(SPACE).values())
    assert not any((tmp_path / "tmp").iterdir())


def test_the_real_checkout_ships_a_runnable_space():
    files = space.space_files(ROOT)
    assert {"app.py", "requirements.txt", "README.md", "LICENSE", "app_ui/quiz_tab.py", "catgan/quiz/store.py",
            "catgan/models/__init__.py", "catgan/judges/animals.py"} <= set(files)
    assert {f.split("/")[1] for f in files if f.startswith("weights/")} == set(space.bundled_weights())
    assert not [f for f in files if f.startswith(("tests/", "bench/", "docs/", "runs/", ".")) or "__pycache__" in f
                or f == "requirements-dev.txt" or f.startswith(("app_ui/", "catgan/")) and not f.endswith(".py")]
    front = yaml.safe_load((ROOT / "README.md").read_text().split("---")[1])
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py"
    runtime = (ROOT / "requirements.txt").read_text().lower()
    assert "pytest" not in runtime and "playwright" not in runtime and "scikit-image" not in runtime


def test_deploy_mistakes_are_one_line(fake_hub, app_root, monkeypatch, capsys):
    monkeypatch.setattr(space, "ROOT", app_root)
    assert run(space.main, ["deploy", "me/catgan", "--weights", "nope"]) == 1
    assert "no weights folder nope under weights/ (there are: dcgan-64, gan-32)" in capsys.readouterr().err
    assert run(space.main, ["deploy", "not a repo"]) == 2
    assert "repo id must look like USER/NAME" in capsys.readouterr().err
    assert run(space.main, ["deploy", "me/catgan", "--dry-run"]) == 0
    assert "13 files" in capsys.readouterr().out and not fake_hub.repos
    fake_hub.fail_commit = 403  # (a 5xx is retried for 20 s first)
    assert run(space.main, ["deploy", "me/catgan"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "may not write to me/catgan (HTTP 403)" in err and TOKEN not in err


def test_deploy_ships_tracked_code_and_known_weight_files_and_lists_sizes(fake_hub, app_root, monkeypatch, capsys):
    monkeypatch.setattr(space, "ROOT", app_root)
    write(app_root, "weights/dcgan-64/huge.bin", b"")
    os.truncate(app_root / "weights/dcgan-64/huge.bin", 300 * 2**20)  # sparse: 300 MB that take no disk
    assert space.space_files(app_root) == EXPECTED  # no local_secrets.py, token.txt, checkpoint.pt, huge.bin
    assert run(space.main, ["deploy", "me/catgan", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:-1] == [f"{(app_root / f).stat().st_size:>12,} B  {f}" for f in EXPECTED]  # every file, its size
    assert lines[-1].startswith("13 files, 0.0 MB would go to me/catgan") and not fake_hub.repos


def test_deploy_outside_a_git_checkout_is_refused(fake_hub, app_root, monkeypatch, capsys):
    shutil.rmtree(app_root / ".git")
    monkeypatch.setattr(space, "ROOT", app_root)
    for args in (["--dry-run"], []):
        assert run(space.main, ["deploy", "me/catgan", *args]) == 1
        assert "is not a git checkout: a Space gets only the code files git tracks" in capsys.readouterr().err
    assert not fake_hub.repos


@pytest.mark.parametrize("link", ["weights/dcgan-64/samples.png", "catgan/models/dcgan.py", "weights/gan-32"])
def test_symbolic_links_are_refused_never_followed(fake_hub, app_root, tmp_path, link, monkeypatch, capsys):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:secret-bytes\n")
    (app_root / link).unlink() if (app_root / link).is_file() else shutil.rmtree(app_root / link)
    (app_root / link).symlink_to(secret if "." in Path(link).name else app_root / "weights" / "dcgan-64")
    git(app_root, "add", "-A", "catgan")  # git tracks the link itself
    with pytest.raises(ValueError, match=f"^{link} is a symbolic link; a Space gets no links"):
        space.deploy("me/catgan", root=app_root)
    monkeypatch.setattr(space, "ROOT", app_root)
    assert run(space.main, ["deploy", "me/catgan", "--dry-run"]) == 1
    assert f"error: {link} is a symbolic link" in capsys.readouterr().err
    assert not fake_hub.repos and all(b"secret-bytes" not in r["body"] for r in fake_hub.requests)


def test_files_over_the_size_caps_are_refused(fake_hub, app_root, monkeypatch):
    os.truncate(app_root / "weights/gan-32/model.safetensors", 300 * 2**20)  # sparse
    with pytest.raises(ValueError, match="weights/gan-32/model.safetensors is 300 MB; a Space file may be at most 50"):
        space.space_files(app_root)
    assert space.space_files(app_root, ["dcgan-64"])  # without it, the rest may go
    monkeypatch.setattr(space, "MAX_TOTAL_MB", 0.0001)  # 105 bytes
    with pytest.raises(ValueError, match="the Space's 11 files are 0 MB together; at most 0.0001 MB may go"):
        space.deploy("me/catgan", root=app_root, weights=["dcgan-64"])
    assert not fake_hub.repos


# ---------------------------------------------------------------- photos

def photo_folder(root: Path, n: int) -> Path:
    for i, img in enumerate(synthetic_faces(n, seed=3)):
        (root / "cats").mkdir(parents=True, exist_ok=True)
        img.save(root / "cats" / f"{i:03d}.jpg")
    (root / "cats" / "notes.txt").write_text("not a photo")
    return root


def test_photos_go_to_a_private_dataset_that_the_quiz_reads(fake_hub, tmp_path, capsys):
    folder = photo_folder(tmp_path / "photos", 30)
    assert space.main(["upload-photos", str(folder), "me/cat-photos"]) == 0
    key = "datasets/me/cat-photos"
    repo = fake_hub.repos[key]
    assert repo["private"] and sorted(fake_hub.files(key)) == [".gitattributes", "README.md", "photos.zip"]
    assert "CATGAN_REAL=me/cat-photos" in capsys.readouterr().out
    assert "research" in fake_hub.files(key)["README.md"].decode()
    assert space.main(["upload-photos", str(folder), "me/cat-photos"]) == 0  # the same photos: no commit
    assert len(repo["commits"]) == 2
    # the app's way in: CATGAN_REAL=me/cat-photos, downloaded with the token into the HF cache
    source = quiz.resolve_real_source("me/cat-photos")
    assert source.endswith("photos.zip") and len(zipfile.ZipFile(source).namelist()) == 30
    assert quiz.real_photos("me/cat-photos", 64).shape == (30, 3, 64, 64)
    # a zip goes up as it is; an existing public repo is refused without --public
    with zipfile.ZipFile(tmp_path / "set.zip", "w") as z:
        for i in range(3):
            z.write(folder / "cats" / f"{i:03d}.jpg", f"x/{i}.jpg")
    assert space.upload_photos(tmp_path / "set.zip", "me/open", public=True).changed
    assert not fake_hub.repos["datasets/me/open"]["private"]
    assert run(space.main, ["upload-photos", str(tmp_path / "set.zip"), "me/open"]) == 1
    assert "exists and is public" in capsys.readouterr().err and len(fake_hub.commits("datasets/me/open")) == 2
    assert run(space.main, ["upload-photos", str(tmp_path / "photos" / "cats" / "notes.txt"), "me/x"]) == 1
    assert "not a folder or a .zip" in capsys.readouterr().err


# ---------------------------------------------------------------- answers that survive restarts

def answer(store, n, model="dcgan-64"):
    return [store.record(model, 64, i % 3 == 0).stored for i in range(n)]


def test_answers_survive_restarts_and_count_once(fake_hub, tmp_path):
    """Two replicas answer, push, restart (one keeps its disk, one loses it) and a third starts
    fresh: every store ends with every answer exactly once."""
    repo, key = "me/quiz-answers", "datasets/me/quiz-answers"
    logs = []

    def start(name):  # what app.py does at start-up with CATGAN_QUIZ_REPO set
        store, notice = quiz_sync.open_store(tmp_path / f"{name}.sqlite", repo, every=60)
        logs.append(store.mirror)
        return store, notice

    def push_all():
        for log in logs:
            log.push()

    try:
        a, notice = start("a")
        assert "saved to the dataset me/quiz-answers" in notice and fake_hub.repos[key]["private"]
        b, _ = start("b")
        answer(a, 5)
        answer(b, 3, "gan-32")
        push_all()
        names = [n for n in fake_hub.files(key) if n.startswith("answers/")]
        assert len(names) == 2  # one file per process
        a2, _ = start("a")  # a restarts on its own disk: its own answers come back from the Hub too
        assert a2.count() == 8
        answer(a2, 2)
        push_all()
        b2, _ = start("b-wiped")  # b restarts on a wiped disk (a Space)
        assert b2.count() == 10 and b2.mirror.name not in names
        answer(b2, 1, "gan-32")
        push_all()
        fresh, _ = start("c")
        assert fresh.count() == 11 and a2.count() == 10 and b2.count() == 11
        assert len([n for n in fake_hub.files(key) if n.startswith("answers/")]) == 4  # a, b, a again, b again
        lines = [json.loads(line) for f, data in fake_hub.files(key).items() if f.endswith(".jsonl")
                 for line in data.decode().splitlines()]
        assert len(lines) == len({x["id"] for x in lines}) == 11
        assert {(r["model"], r["n"]) for r in fresh.stats()["by_model"]} == {("dcgan-64", 7), ("gan-32", 4)}
        assert all(TOKEN.encode() not in data for data in fake_hub.files(key).values())
    finally:
        for log in logs:
            log.scheduler.stop()  # no push at exit, when the stand-in is gone


def test_without_the_hub_the_quiz_keeps_answers_locally(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    store, notice = quiz_sync.open_store(tmp_path / "q.sqlite", "me/quiz-answers")
    assert store.mirror is None and "kept on this machine only" in notice
    assert store.record("m", 64, True).counted and store.count() == 1
    assert quiz_sync.open_store(tmp_path / "q.sqlite", None)[1] is None  # no repo: SQLite alone, no notice


def test_answer_files_are_checked_line_by_line():
    good = {"id": "f" * 32, "at": 1.0, "model": "dcgan-64", "resolution": 64, "fooled": True}
    assert quiz_sync._parse(json.dumps(good)) == good
    for bad in ("", "{", "[]", json.dumps({**good, "id": "../x"}), json.dumps({**good, "fooled": 1}),
                json.dumps({**good, "model": "m" * 101}), json.dumps({**good, "resolution": 10**6})):
        assert quiz_sync._parse(bad) is None


# ---------------------------------------------------------------- the Space's files, alone

WHEELHOUSE = Path(os.environ.get("CATGAN_WHEELHOUSE") or Path.home() / ".cache" / "catgan" / "wheelhouse")


def pip_install(venv: Path, requirements: Path) -> None:
    """requirements.txt into ``venv`` from the local wheelhouse alone; the wheelhouse is filled from
    the package index once (skip when that can't be done)."""
    offline = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
               "--no-index", "--find-links", str(WHEELHOUSE), "-r", str(requirements)]
    if subprocess.run(offline, capture_output=True).returncode == 0:
        return
    fill = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                           "-r", str(requirements), "-d", str(WHEELHOUSE)], capture_output=True, text=True)
    if fill.returncode != 0:
        pytest.skip(f"no complete wheelhouse at {WHEELHOUSE} and the package index can't fill it")
    subprocess.run(offline, check=True)


@pytest.mark.slow
def test_the_deployed_files_alone_install_and_serve_all_four_tabs(tmp_path):
    """What a Space does: only space_files, requirements.txt into a new venv, `python app.py`.
    About 2.5 minutes, nearly all of it pip unpacking torch (the venv is 6 GB; removed after)."""
    from gradio_client import Client, handle_file

    folder, venv = tmp_path / "space", tmp_path / "venv"
    for rel in space.space_files(ROOT):
        write(folder, rel, (ROOT / rel).read_bytes())
    (tmp_path / "real").mkdir()
    for i, img in enumerate(synthetic_faces(8, seed=9)):
        img.save(tmp_path / "real" / f"{i}.png")
    proc = None
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip_install(venv, folder / "requirements.txt")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1",
                   NO_PROXY="127.0.0.1,localhost", CATGAN_CACHE=str(tmp_path / "cache"),
                   GRADIO_TEMP_DIR=str(tmp_path / "gradio"), CATGAN_REAL=str(tmp_path / "real"),
                   CATGAN_QUIZ_DB=str(tmp_path / "quiz.sqlite"))
        proc = subprocess.Popen([str(venv / "bin" / "python"), "app.py", "--port", str(port)], cwd=folder, env=env,
                                stdout=subprocess.DEVNULL, stderr=open(tmp_path / "app.log", "w"))
        url = f"http://127.0.0.1:{port}/"
        wait_up(proc, url, tmp_path / "app.log")
        c = Client(url, analytics_enabled=False, verbose=False, download_files=str(tmp_path / "dl"))
        grid, caption = c.predict(model="dcgan-64", seed=7, n=4, api_name="/sample")  # Sample
        assert Image.open(grid).width > 64 and "dcgan-64" in caption
        mp4, gif, *_ = c.predict(seed_a=0, seed_b=1, frames=4, mode="loop", api_name="/interpolate")  # Interpolate
        assert Image.open(gif).n_frames == 4 and Path(mp4).stat().st_size > 0
        left, right, *_ = c.predict(api_name="/quiz_new")  # Which cat is real?
        assert Image.open(left).size == Image.open(right).size
        time.sleep(0.6)
        assert "the real photo" in c.predict(side="left", api_name="/quiz_answer")[2]
        cat = c.predict(model="dcgan-64", seed=7, api_name="/send_sample")  # Score
        for judge in ("efficientnet_lite0", "resnet-animals"):
            top5, verdict, where = c.predict(image=handle_file(cat), judge=judge, api_name="/score")
            assert "P(cat)" in verdict and judge in verdict and Image.open(where).size == (256, 256)  # its map
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(venv, ignore_errors=True)


# ---------------------------------------------------------------- two app processes, stopped and restarted

def serve(tmp_path: Path, name: str, hub_url: str, weights: Path) -> tuple[subprocess.Popen, str]:
    """`python app.py` with CATGAN_QUIZ_REPO set, as on a Space (the Hub is the stand-in)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "PYTHONPATH")}
    env.update(GRADIO_ANALYTICS_ENABLED="False", NO_PROXY="127.0.0.1,localhost",
               HF_ENDPOINT=hub_url, HF_TOKEN=TOKEN, HF_HUB_CACHE=str(tmp_path / f"hf-{name}"),
               CATGAN_QUIZ_REPO="me/quiz-answers", CATGAN_REAL=str(tmp_path / "real"),
               CATGAN_QUIZ_DB=str(tmp_path / f"{name}.sqlite"), GRADIO_TEMP_DIR=str(tmp_path / f"gradio-{name}"))
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--weights", str(weights)],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{name}.log", "a"))
    return proc, f"http://127.0.0.1:{port}/"


def wait_up(proc, url, log):
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2):
                return
        time.sleep(0.3)
    raise AssertionError(Path(log).read_text()[-2000:])


def answer_at_human_pace(url, tmp_path, n):
    from gradio_client import Client

    c = Client(url, analytics_enabled=False, verbose=False, download_files=str(tmp_path / "dl"))
    for _ in range(n):
        c.predict(api_name="/quiz_new")
        time.sleep(1.05)
        assert "Not counted" not in c.predict(side="left", api_name="/quiz_answer")[2]
    return c.predict(api_name="/quiz_stats")


@pytest.mark.slow
def test_two_app_processes_stop_restart_and_count_every_answer_once(fake_hub, tmp_path):
    """Replicas a and b answer and are stopped (SIGTERM, as a Space stops them: the last push runs);
    a restarts on its own disk and c starts on a wiped one. Both count each answer once. About a minute."""
    from catgan.models import ModelConfig, build_generator

    g = build_generator(ModelConfig(arch="dcgan", img_size=64, z_dim=16, g_width=8, d_width=8))
    g.save_pretrained(tmp_path / "weights" / "dcgan-64", config=g.config)
    (tmp_path / "real").mkdir()
    for i, img in enumerate(synthetic_faces(6, seed=2)):
        img.save(tmp_path / "real" / f"{i}.png")
    procs = {}

    def start(*names):
        for name in names:
            procs[name] = serve(tmp_path, name, fake_hub.url, tmp_path / "weights")
        for name in names:
            wait_up(*procs[name], tmp_path / f"{name}.log")

    def stop(*names):
        for name in names:
            procs[name][0].terminate()
        for name in names:
            assert procs[name][0].wait(timeout=60) == 0

    try:
        start("a", "b")
        assert "2 answers in all" in answer_at_human_pace(procs["a"][1], tmp_path, 2)
        assert "2 answers in all" in answer_at_human_pace(procs["b"][1], tmp_path, 2)  # b counts its own
        stop("a", "b")
        files = {f: d for f, d in fake_hub.files("datasets/me/quiz-answers").items() if f.startswith("answers/")}
        assert sorted(d.count(b"\n") for d in files.values()) == [2, 2]  # one file per process
        (tmp_path / "b.sqlite").unlink()  # b's disk is gone; c is a new replica
        procs["c"] = procs.pop("b")
        start("a", "c")
        for name in ("a", "c"):
            assert "4 answers in all" in answer_at_human_pace(procs[name][1], tmp_path, 0)
        stop("a", "c")
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
