"""catgan.hub.loader: loading by repo id from the huggingface_hub cache (offline, no network, bundled
fallback), the CATGAN_WEIGHTS setting, and publishing against a local stand-in for the Hub's HTTP API."""
import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch
import yaml
from hub_standin import TOKEN, closed_port
from huggingface_hub import constants
from PIL import Image

from catgan import load_generator
from catgan.hub import loader as hub
from catgan.hub import publish
from catgan.models import ARCHITECTURES, ModelConfig, build_generator
from catgan.train.export import save_generator

CASES = [(a, s) for a in ARCHITECTURES for s in ARCHITECTURES[a].sizes]
UPLOADED = ["README.md", "config.json", "evolution.gif", "model.safetensors", "samples.png"]


def tiny(arch="dcgan", size=32, seed=0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_generator(ModelConfig(arch=arch, img_size=size, z_dim=16, g_width=8, d_width=8)).eval()


def same_output(a, b) -> bool:
    z = torch.randn(3, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return torch.equal(a(z), b(z))


# ------------------------------------------------------------------ a pre-populated hf cache

def cache_commit(cache: Path, repo_id: str, folder: Path, commit: str, ref: str | None = "main") -> Path:
    """Lay ``folder``'s config.json + model.safetensors out as huggingface_hub's cache does."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        data = (folder / name).read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(exist_ok=True)
        blob.write_bytes(data)
        (snap / name).symlink_to(blob)
    if ref:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    return snap


@pytest.fixture
def hf_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))  # read by catgan.hub.loader at call time
    return cache


@pytest.mark.parametrize("arch,size", CASES)
def test_load_by_repo_id_from_cache_offline(arch, size, tmp_path, hf_cache):
    g = tiny(arch, size)
    g.save_pretrained(tmp_path / "w", config=g.config)
    cache_commit(hf_cache, f"someone/catgan-{arch}-{size}", tmp_path / "w", "a" * 40)
    with pytest.warns(UserWarning, match="offline mode.*cached copy"):
        loaded = load_generator(f"someone/catgan-{arch}-{size}")
    assert type(loaded) is type(g) and loaded.config == g.config and not loaded.training
    assert same_output(g, loaded)
    assert "cached copy of someone/catgan" in loaded.load_notice


def test_revision_pinning_from_cache(tmp_path, hf_cache):
    old, new = tiny(seed=1), tiny(seed=2)
    old.save_pretrained(tmp_path / "old", config=old.config)
    new.save_pretrained(tmp_path / "new", config=new.config)
    cache_commit(hf_cache, "u/cats", tmp_path / "old", "1" * 40, ref="v1")
    cache_commit(hf_cache, "u/cats", tmp_path / "new", "2" * 40, ref="main")
    with pytest.warns(UserWarning):
        assert same_output(new, load_generator("u/cats"))
        assert same_output(old, load_generator("u/cats", revision="v1"))
        assert same_output(old, load_generator("u/cats", revision="1" * 40))
        pinned = hub.load("u/cats", revision="1" * 40)
    assert pinned.origin == "cache" and pinned.location == f"u/cats@{'1' * 40}"


def test_no_network_falls_back_to_cache_then_bundled(tmp_path, hf_cache, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")  # nothing listens: no network
    g = tiny()
    g.save_pretrained(tmp_path / "w", config=g.config)
    cache_commit(hf_cache, "u/catgan-dcgan-32", tmp_path / "w", "c" * 40)
    with pytest.warns(UserWarning, match="unreachable.*cached copy"):
        loaded = hub.load("u/catgan-dcgan-32")
    assert loaded.origin == "cache" and same_output(g, loaded.generator)
    # not cached: the bundled weights/<arch>-<size>, named by the repo id or explicitly
    bundled = tiny(seed=3)
    bundled.save_pretrained(tmp_path / "weights" / "dcgan-32", config=bundled.config)
    with pytest.warns(UserWarning, match="unreachable.*not in the Hugging Face cache.*bundled"):
        loaded = hub.load("u/other-dcgan-32", weights_root=tmp_path / "weights")
    assert loaded.origin == "bundled" and same_output(bundled, loaded.generator)
    # a variant's repo id falls back to its own bundled folder, else to its family's
    variant = tiny(seed=4)
    variant.save_pretrained(tmp_path / "weights" / "dcgan-32-dropout", config=variant.config)
    with pytest.warns(UserWarning, match="bundled"):
        loaded = hub.load("u/catgan-dcgan-32-dropout", weights_root=tmp_path / "weights")
    assert loaded.location == str(tmp_path / "weights" / "dcgan-32-dropout") and same_output(variant, loaded.generator)
    with pytest.warns(UserWarning, match="bundled"):
        loaded = hub.load("u/catgan-dcgan-32-v2", weights_root=tmp_path / "weights")
    assert loaded.location == str(tmp_path / "weights" / "dcgan-32")


def test_offline_fallback_to_bundled_weights(tmp_path, hf_cache):
    bundled = tiny(seed=3)
    bundled.save_pretrained(tmp_path / "weights" / "dcgan-32", config=bundled.config)
    with pytest.warns(UserWarning, match="offline mode.*bundled"):
        loaded = hub.load("u/my-cats", revision="v2", name="dcgan-32", weights_root=tmp_path / "weights")
    assert loaded.origin == "bundled" and loaded.location == str(tmp_path / "weights" / "dcgan-32")
    assert "u/my-cats@v2" in loaded.notice and same_output(bundled, loaded.generator)
    with pytest.raises(hub.HubError, match="cannot load u/my-cats.*not in the Hugging Face cache") as err:
        hub.load("u/my-cats", weights_root=tmp_path / "weights")
    assert err.value.__cause__ is None and err.value.__suppress_context__  # one line, no chained traceback


def test_tampered_cached_file_fails_strictly(tmp_path, hf_cache):
    g = tiny()
    g.save_pretrained(tmp_path / "w", config=g.config)
    snap = cache_commit(hf_cache, "u/catgan-dcgan-32", tmp_path / "w", "d" * 40)
    blob = (snap / "model.safetensors").resolve()
    blob.write_bytes(blob.read_bytes()[:100])
    (tmp_path / "weights" / "dcgan-32").mkdir(parents=True)  # a bundled copy must not mask the broken file
    g.save_pretrained(tmp_path / "weights" / "dcgan-32", config=g.config)
    with pytest.raises(ValueError, match="not a readable safetensors"):
        hub.load("u/catgan-dcgan-32", weights_root=tmp_path / "weights")


# ------------------------------------------------------------------ mistyped ids and broken directions

def put_repo(fake, repo_id: str, folder: Path) -> None:
    """``folder``'s files as the main branch of ``repo_id`` on the stand-in."""
    repo = fake.repos[repo_id] = {"refs": {}, "commits": {}, "private": False, "sdk": None}
    repo["refs"]["main"] = fake._commit(repo, None, {p.name: p.read_bytes() for p in folder.iterdir()}, "weights")


def test_a_mistyped_repo_id_or_revision_is_said_as_such(fake_hub, weights_dir):
    for call, said in ((lambda: hub.load("me/cats\n"), r"not a valid repo id: 'me/cats\\n'"),
                       (lambda: hub.load("me/cats", revision=".."), "not a valid revision: '..'"),
                       (lambda: load_generator("me/cats@.."), "not a valid repo id: 'me/cats@..'"),
                       (lambda: publish.publish(weights_dir, "me/cats\n"), "not a valid repo id"),
                       (lambda: publish.publish(weights_dir, "me/cats", revision="../main"), "not a valid revision")):
        with pytest.raises(hub.HubError, match=said) as err:
            call()
        assert "unreachable" not in str(err.value)
    assert not fake_hub.requests  # refused before any request


META = {"judge": "j", "step": 2.0, "spread": {"lightness": 1.0}, "config": {"n_test": 5}, "tried": [],
        "directions": [{"attribute": "lightness", "label": "dark ↔ light fur"}]}
BROKEN_DIRECTIONS = {  # directions.json, rows of directions.safetensors (z_dim 16), what the error says
    "not JSON": (b"{not json", torch.randn(1, 16), "directions.json is not JSON"),
    "a list": (b"[]", torch.randn(1, 16), "directions.json is not a catgan directions file: not a JSON object"),
    "wrong types": ({**META, "directions": [{"attribute": 3, "label": "x"}]}, torch.randn(1, 16),
                    "each direction needs a string 'attribute' and 'label'"),
    "step not a number": ({**META, "step": "2"}, torch.randn(1, 16), "'step' and config's 'n_test' must be numbers"),
    "names and vectors": (META, torch.randn(2, 16), "holds 2 directions of 16 values; directions.json names 1"),
    "z_dim": (META, torch.randn(1, 8), "holds 1 directions of 8 values; .* the model's z_dim is 16"),
    "not finite": (META, torch.full((1, 16), float("nan")), "holds no finite"),
}


@pytest.mark.parametrize("case", BROKEN_DIRECTIONS)
def test_broken_directions_are_one_line_here_and_ignored_from_the_hub(case, fake_hub, tmp_path, capsys):
    from safetensors.torch import save_file

    from catgan.cli import run
    from catgan.latent.directions import load_directions

    meta, vectors, said = BROKEN_DIRECTIONS[case]
    g = tiny()
    folder = tmp_path / "w"
    g.save_pretrained(folder, config=g.config)
    (folder / "directions.json").write_bytes(meta if isinstance(meta, bytes) else json.dumps(meta).encode())
    save_file({"directions": vectors}, folder / "directions.safetensors")
    with pytest.raises(ValueError, match=said) as err:
        load_directions(folder, z_dim=16)
    assert "\n" not in str(err.value) and err.value.__cause__ is None
    if case != "z_dim":  # publishing one: one error line, nothing uploaded
        assert run(publish.main, [str(folder), "me/broken"]) == 1
        assert capsys.readouterr().err.count("\n") == 1 and "me/broken" not in fake_hub.repos
    put_repo(fake_hub, "me/catgan-dcgan-32", folder)
    with pytest.warns(UserWarning, match="me/catgan-dcgan-32: its named directions are ignored"):
        loaded = hub.load("me/catgan-dcgan-32")
    assert loaded.origin == "hub" and same_output(g, loaded.generator) and "ignored" in loaded.notice
    assert loaded.folder is None and load_directions(loaded.folder) is None  # the app offers no sliders


# ------------------------------------------------------------------ publishing, against tests/hub_standin.py

@pytest.fixture
def weights_dir(tmp_path) -> Path:
    g = tiny()
    train_config = {"data": "cats.zip", "out": "runs/x", "steps": 3}
    out = save_generator(g, tmp_path / "weights" / "dcgan-32", train_config=train_config, n_grid=4,
                         summary={"steps": 3, "images_seen": 192, "device": "cpu", "precision": "fp32"})
    (out / "evolution.gif").write_bytes(b"GIF89a fake frames")
    return out


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_publish_one_commit_idempotent_and_token_free(fake_hub, weights_dir, tmp_path, capsys, caplog):
    from catgan.hub.publish import main

    before = snapshot(weights_dir)
    caplog.set_level("DEBUG")
    assert main([str(weights_dir), "me/catgan-dcgan-32", "--private"]) == 0
    commits = fake_hub.commits("me/catgan-dcgan-32")
    assert len(commits) == 2 and fake_hub.repos["me/catgan-dcgan-32"]["private"]
    head = fake_hub.repos["me/catgan-dcgan-32"]["refs"]["main"]
    assert commits[head]["added"] == UPLOADED and commits[head]["message"] == "Upload catgan dcgan-32 generator"
    files = fake_hub.files("me/catgan-dcgan-32")
    for name in ("config.json", "model.safetensors", "samples.png", "evolution.gif"):
        assert files[name] == before[name]
    card = files["README.md"].decode()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["library_name"] == "catgan" and meta["catgan"]["summary"]["images_seen"] == 192
    assert 'load_generator("me/catgan-dcgan-32")' in card and "![evolution](evolution.gif)" in card
    # the same folder again: no new commit
    assert main([str(weights_dir), "me/catgan-dcgan-32"]) == 0
    assert len(fake_hub.commits("me/catgan-dcgan-32")) == 2
    out = capsys.readouterr()
    assert "already up to date, no new commit" in out.out
    # the token travelled only in Authorization headers
    assert all(r["headers"].get("authorization") == f"Bearer {TOKEN}" for r in fake_hub.requests)
    for r in fake_hub.requests:
        assert TOKEN not in r["path"] and TOKEN.encode() not in r["body"]
        assert TOKEN not in json.dumps({k: v for k, v in r["headers"].items() if k != "authorization"})
    assert TOKEN not in out.out + out.err + caplog.text
    assert all(TOKEN.encode() not in blob for blob in files.values())
    assert snapshot(weights_dir) == before and not any((tmp_path / "tmp").iterdir())


def row(name, source, *, fid, judges=None, n=10000):
    return {"name": name, "source": source, "n": n, "fid": fid, "kid": 0.0321, "kid_std": 0.001, "judges": judges or {}}


def judge(rate, lo, hi):
    return {"cat_rate": rate, "ci95": [lo, hi], "n": 10000, "cats": round(rate * 10000), "mean_p_cat": rate}


def test_publish_with_results_to_a_branch(fake_hub, weights_dir, tmp_path):
    table = tmp_path / "table1.json"
    table.write_text(json.dumps({"protocol": {"n_samples": 10000, "reference": "cat-faces-64"}, "rows": [
        row("other-64", "weights/other-64", fid=99.0),
        row(weights_dir.name, str(weights_dir), fid=41.234, judges={"resnet50": judge(0.62, 0.60, 0.64)})]}))
    done = publish.publish(weights_dir, "me/cats", revision="v1", results=table)
    assert done.changed and done.files == tuple(UPLOADED)
    refs = fake_hub.repos["me/cats"]["refs"]
    assert refs["v1"] == done.commit_oid != refs["main"]
    card = fake_hub.files("me/cats", "v1")["README.md"].decode()
    assert "| FID | 41.23 | n/a |" in card and "| cat-rate (resnet50) | 0.620 | [0.600, 0.640] |" in card
    assert "n_samples: 10000" in card
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["model-index"][0]["results"][0]["metrics"][0] == {"type": "fid", "value": 41.234, "name": "FID"}


@pytest.mark.slow
def test_failed_upload_is_clear_and_leaves_nothing(fake_hub, weights_dir, tmp_path):
    before = snapshot(weights_dir)
    fake_hub.fail_commit = 500
    with pytest.raises(hub.HubError, match=r"publishing to me/cats failed: the Hub answered HTTP 500") as err:
        publish.publish(weights_dir, "me/cats")
    assert TOKEN not in str(err.value) and err.value.__cause__ is None
    assert len(fake_hub.commits("me/cats")) == 1  # only the repo's initial commit
    assert snapshot(weights_dir) == before and not any((tmp_path / "tmp").iterdir())
    # a rejected token
    fake_hub.fail_commit = 0
    with pytest.raises(hub.HubError, match="token was rejected"):
        publish.publish(weights_dir, "me/cats", token="hf_wrong")


def test_without_a_token_the_error_is_clear(weights_dir, tmp_path, monkeypatch, capsys):
    from catgan.cli import run
    from catgan.hub.publish import main
    from catgan.train import __main__ as train

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-stored-tokens"))
    assert run(main, [str(weights_dir), "me/cats"]) == 1
    assert "no Hugging Face token: set HF_TOKEN" in capsys.readouterr().err
    (tmp_path / "cats").mkdir()
    Image.new("RGB", (64, 64)).save(tmp_path / "cats" / "cat.png")  # the data checks pass; the token's does not
    with pytest.raises(SystemExit):  # train.py refuses before training, not after
        train.train_main(["--data", str(tmp_path / "cats"), "--out", str(tmp_path / "run"), "--push-to-hub", "me/cats"])
    assert "no Hugging Face token" in capsys.readouterr().err


def test_mixin_push_to_hub_uploads_a_weights_folder(fake_hub, monkeypatch):
    monkeypatch.setattr(constants, "ENDPOINT", fake_hub.url)
    g = tiny()
    g.push_to_hub("me/mixin", config=g.config, token=TOKEN)
    assert {"config.json", "model.safetensors", "README.md"} <= set(fake_hub.files("me/mixin"))
    assert json.loads(fake_hub.files("me/mixin")["config.json"])["arch"] == "dcgan"


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
