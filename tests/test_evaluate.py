"""evaluate: Table 1 (markdown + JSON with protocol) on a tiny generator and a few real images."""
import json

import pytest

from catgan.cli import run
from catgan.eval.evaluate import EvalConfig, evaluate, main, parse_args
from catgan.eval.inception import inception_weights_path
from catgan.models import ModelConfig, build_generator


@pytest.fixture
def tiny_generator(tmp_path):
    path = tmp_path / "tiny-dcgan"
    build_generator(ModelConfig(arch="dcgan", img_size=64, z_dim=16, g_width=8, d_width=8)).save_pretrained(path)
    return path


def test_cli_flags_map_onto_the_config(capsys):
    cfg, dry = parse_args(["--real", "cats.zip", "--models", "w/a", "w/b", "--judges", "mobilenet_v2",
                           "--n", "50", "--real-limit", "10", "--no-progress", "--dry-run"])
    assert dry and cfg == EvalConfig(real="cats.zip", models=("w/a", "w/b"), judges=("mobilenet_v2",), n=50,
                                     real_limit=10, progress=False)
    assert main(["--real", "cats.zip", "--dry-run"]) == 0 and '"n": 10000' in capsys.readouterr().out
    assert run(main, ["--real", "cats.zip", "--models", "no/such/folder"]) == 2  # a wrong command line


@pytest.mark.slow
def test_evaluate_writes_table1(cats_zip, tiny_generator, tmp_path, monkeypatch):
    if not inception_weights_path().is_file():
        pytest.skip("needs ../shared/weights/pt_inception-2015-12-05-pool3-nofc.pth")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # resnet50 falls back unless it is in the torchvision cache
    cfg = EvalConfig(real=str(cats_zip), models=(str(tiny_generator),), judges=("resnet50", "mobilenet_v2"),
                     n=12, real_limit=24, kid_subsets=5, out=str(tmp_path / "results"), progress=False)
    result = evaluate(cfg)
    md = (tmp_path / "results" / "table1.md").read_text()
    saved = json.loads((tmp_path / "results" / "table1.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(result["rows"]))
    real, fake = saved["rows"]
    assert real["name"] == "real" and real["n"] == 24 and fake["name"] == "tiny-dcgan" and fake["n"] == 12
    judges = [j["name"] for j in saved["protocol"]["judges"]]
    assert "mobilenet_v2" in judges and len(judges) == len(set(judges))
    for row in (real, fake):
        for name in judges:
            lo, hi = row["judges"][name]["ci95"]
            assert 0 <= lo <= row["judges"][name]["cat_rate"] <= hi <= 1
        assert row["fid"] >= 0 and "kid" in row
    assert 0 <= fake["near_copy_fraction"] <= 1 and real["near_copy_fraction"] is None
    assert fake["fid"] > real["fid"]  # an untrained generator is far from cat faces
    protocol = saved["protocol"]
    assert protocol["config"]["n"] == 12 and protocol["config"]["seed"] == 0
    assert "bilinear" in protocol["inception"]["resize"] and protocol["inception"]["weights"]
    assert all(j["weights"] for j in protocol["judges"]) and "latents" in protocol["seeds"]
    assert "| real | 24 |" in md and "| tiny-dcgan | 12 |" in md and "## Protocol" in md

    # a second run (here with a new output folder) takes features and judge answers from the caches
    def no_compute(*args, **kwargs):
        raise AssertionError("recomputed a cached result")

    monkeypatch.setattr("catgan.eval.inception.inception_features", no_compute)
    monkeypatch.setattr("catgan.judges.base.Judge.probs", no_compute)
    again = evaluate(EvalConfig(**{**cfg.__dict__, "out": str(tmp_path / "again")}))
    assert again["rows"] == result["rows"]


def test_judge_fingerprint_follows_the_weights():
    import torch

    from catgan.judges.base import Judge, Preprocess

    model = torch.nn.Conv2d(3, 2, 1)
    judge = Judge("toy", model, ["cat", "dog"], cat_classes=[0], preprocess=Preprocess(8, 8, (0.5,) * 3, (0.5,) * 3),
                  weights="toy")
    before = judge.fingerprint()
    assert judge.fingerprint() == before
    with torch.no_grad():
        model.bias[0] += 1e-3
    assert judge.fingerprint() != before



@pytest.mark.slow
def test_update_rescores_only_the_given_models(cats_zip, tiny_generator, tmp_path, monkeypatch):
    if not inception_weights_path().is_file():
        pytest.skip("needs ../shared/weights/pt_inception-2015-12-05-pool3-nofc.pth")
    other = tmp_path / "tiny-gan"
    build_generator(ModelConfig(arch="gan", img_size=32, z_dim=16, g_width=8, d_width=8)).save_pretrained(other)
    cfg = EvalConfig(real=str(cats_zip), models=(str(tiny_generator), str(other)), judges=("mobilenet_v2",), n=12,
                     real_limit=24, kid_subsets=5, out=str(tmp_path / "results"), progress=False)
    first = evaluate(cfg)
    # retrain one generator (here: new random weights), then re-score only it
    build_generator(ModelConfig(arch="dcgan", img_size=64, z_dim=16, g_width=8, d_width=8)).save_pretrained(
        tiny_generator)
    update = EvalConfig(**{**cfg.__dict__, "models": (str(tiny_generator),), "update": True})
    with pytest.raises(ValueError, match="another protocol: --n 12 .table. vs 13"):
        evaluate(EvalConfig(**{**update.__dict__, "n": 13}))
    merged = evaluate(update)
    real, dcgan, gan = merged["rows"]
    assert real == first["rows"][0] and gan == first["rows"][2]  # kept as they were, in their place
    assert dcgan["source"] == str(tiny_generator) and dcgan["fid"] != first["rows"][1]["fid"]
    protocol = merged["protocol"]
    assert protocol["config"]["models"] == [str(tiny_generator), str(other)]
    assert protocol["updated"]["rows"] == [str(tiny_generator)] and protocol["date"] == first["protocol"]["date"]
    assert set(protocol["real"]) == {"64", "32"}  # the 32 px real set the gan row was scored against is kept
    saved = json.loads((tmp_path / "results" / "table1.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(merged["rows"]))
    with pytest.raises(FileNotFoundError, match="run without --update first"):
        evaluate(EvalConfig(**{**update.__dict__, "out": str(tmp_path / "empty")}))
