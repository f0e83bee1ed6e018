"""catgan.hub.card: the model card's YAML metadata parses, and its numbers come from the evaluate JSON."""
import pytest
import yaml
from huggingface_hub import ModelCard

from catgan import env
from catgan.eval.results import find_row
from catgan.hub.card import read_card_data, render_card
from catgan.models import ModelConfig

CONFIG = ModelConfig(arch="dcgan", img_size=64, z_dim=16, g_width=8, d_width=8)
TRAIN = {"data": "../shared/data/cat-faces-64.zip", "out": "runs/dcgan-64", "steps": 2000, "loss": "hinge"}
SUMMARY = {"steps": 2000, "images_seen": 128000, "wall_time_s": 812.5, "mean_images_per_s": 157.5,
           "device": "cuda", "precision": "bf16"}
TABLE = {  # the shape catgan.eval.evaluate writes to results/table1.json (catgan.eval.results)
    "protocol": {"cat_rule": "top-1 in classes 281-285; 95% CI: Wilson", "config": {"n": 5000},
                 "reference": "held-out cat faces"},
    "rows": [{"name": "real", "source": "cats.zip", "n": 9303, "fid": 1.0, "kid": 0.0, "kid_std": 0.0, "judges": {}},
             {"name": "generator", "source": "runs/other/generator", "n": 5000, "fid": 99.0, "kid": 0.1,
              "kid_std": 0.01, "judges": {}},
             {"name": "generator", "source": "runs/dcgan-64/generator", "n": 5000, "fid": 31.337,
              "kid": 0.0213, "kid_std": 0.0011,
              "judges": {"resnet50": {"cat_rate": 0.812, "ci95": [0.801, 0.823], "mean_p_cat": 0.7},
                         "mobilenet_v2": {"cat_rate": 0.64, "ci95": [0.627, 0.653]}}},
             {"name": "gan-32", "source": "weights/gan-32", "n": 5000, "fid": 120.0, "kid": 0.1, "kid_std": 0.01,
              "judges": {}}],
}


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_yaml_metadata_parses_and_has_the_hub_fields():
    card = render_card(CONFIG, train_config=TRAIN, summary=SUMMARY, repo_id="me/catgan-dcgan-64", gif=True)
    meta = front_matter(card)
    assert meta["library_name"] == "catgan" and meta["license"] == "other" and meta["datasets"] == ["cat-faces-64"]
    assert {"gan", "cats", "unconditional-image-generation"} <= set(meta["tags"])
    assert meta["pipeline_tag"] == "unconditional-image-generation"
    assert "metrics" not in meta and "model-index" not in meta  # nothing evaluated: no numbers claimed
    assert ModelCard(card).data.library_name == "catgan"  # huggingface_hub reads it too
    for section in ("## Load and sample", "## Training data", "## Training configuration", "## Metrics",
                    "![samples](samples.png)", "![evolution](evolution.gif)", "@inproceedings{zhang2008cat",
                    "research / non-commercial", "--loss hinge", "| 2000 | 128000 | 812.5 | 157.5 | cuda | bf16 |"):
        assert section in card
    snippet = card.split("```python\n")[1].split("```")[0].strip().splitlines()
    assert snippet == ["from catgan import load_generator, sample", 'generator = load_generator("me/catgan-dcgan-64")',
                       "images = sample(generator, n=16, seed=0)  # list of PIL images"]
    assert "Not evaluated yet" in card


def test_metrics_come_from_the_evaluate_json():
    row = find_row(TABLE, ["/abs/runs/dcgan-64/generator", "runs/dcgan-64/generator", "generator"])
    assert row["source"] == "runs/dcgan-64/generator" and row["protocol"]["config"]["n"] == 5000
    card = render_card(CONFIG, train_config=TRAIN, metrics=row, repo_id="me/catgan-dcgan-64")
    for line in ("| FID | 31.34 | n/a |", "| KID | 0.0213 | ± 0.0011 |",
                 "| cat-rate (resnet50) | 0.812 | [0.801, 0.823] |",
                 "| cat-rate (mobilenet_v2) | 0.640 | [0.627, 0.653] |", "5000 generated images",
                 "### Protocol", "- reference: held-out cat faces", "- cat_rule: top-1 in classes 281-285", '"n": 5000'):
        assert line in card
    meta = front_matter(card)
    assert meta["metrics"] == ["fid", "kid", "cat-rate"]
    results = meta["model-index"][0]["results"][0]
    assert results["task"]["type"] == "unconditional-image-generation"
    assert [(m["type"], m["value"]) for m in results["metrics"]] == [("fid", 31.337), ("kid", 0.0213),
                                                                       ("cat-rate", 0.812), ("cat-rate", 0.64)]
    assert ModelCard(card).data.eval_results[0].metric_value == 31.337
    assert read_card_data(card)["metrics"] == row  # kept, so a re-publish can re-render the card


def test_rows_are_found_by_source_then_name_and_other_shapes_are_refused():
    assert find_row(TABLE, ["weights/gan-32/"])["fid"] == 120.0
    assert find_row(TABLE, ["./gan-32"])["fid"] == 120.0
    assert find_row(TABLE, ["dcgan-64"]) is None
    with pytest.raises(ValueError, match="lacks"):
        find_row({"rows": [{"model": "weights/dcgan-64", "fid": 12.5}]}, ["weights/dcgan-64"])
    with pytest.raises(ValueError, match="not a catgan.eval.evaluate results table"):
        find_row([{"name": "dcgan-64"}], ["dcgan-64"])


def test_cifar_runs_cite_cifar():
    card = render_card(ModelConfig(arch="gan", img_size=32), train_config={"data": "cifar10.zip"})
    assert front_matter(card)["datasets"] == ["uoft-cs/cifar10"] and "krizhevsky2009learning" in card
    assert "fully connected GAN" in card and 'load_generator("weights/gan-32")' in card


def test_a_variant_folder_names_its_model_and_other_folders_name_the_family():
    config = ModelConfig(arch="dcgan", img_size=64, g_dropout=0.5)
    assert config.name_in("weights/dcgan-64-dropout") == "dcgan-64-dropout"
    assert config.name_in("weights/dcgan-64-dropout/") == "dcgan-64-dropout"
    for folder in ("runs/long/generator", "/tmp/dcgan-32-x", "weights/gan-64-dropout", "weights/dcgan-64-Drop!"):
        assert config.name_in(folder) == "dcgan-64"
    card = render_card(config, folder="weights/dcgan-64-dropout")
    assert "# catgan dcgan-64-dropout" in card and front_matter(card)["model_name"] == "catgan-dcgan-64-dropout"
    assert 'load_generator("weights/dcgan-64-dropout")' in card


def test_a_card_never_carries_the_trainer_s_absolute_paths():
    beside = env.REPO_ROOT.parent
    train = {**TRAIN, "data": str(beside / "shared" / "data" / "cat-faces-64.zip"),
             "out": str(beside / "runs" / "long"), "cache_dir": "/home/someone/private/cache"}
    card = render_card(CONFIG, train_config=train)
    assert str(beside) not in card and "/home/someone" not in card
    shown = read_card_data(card)["train_config"]
    assert shown["data"] == "../shared/data/cat-faces-64.zip" and shown["out"] == "../runs/long"
    assert shown["cache_dir"] == "cache" and "--data ../shared/data/cat-faces-64.zip" in card
    assert render_card(CONFIG, train_config=TRAIN).count(TRAIN["data"]) >= 2  # relative paths stay as they are
