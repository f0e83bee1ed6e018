"""catgan.card: the model card's YAML metadata parses, and its numbers come from the evaluate JSON."""
import pytest
import yaml
from huggingface_hub import ModelCard

from catgan.card import find_result, metric_values, read_card_data, render_card
from catgan.models import ModelConfig

CONFIG = ModelConfig(arch="dcgan", img_size=64, z_dim=16, g_width=8, d_width=8)
TRAIN = {"data": "../shared/data/cat-faces-64.zip", "out": "runs/dcgan-64", "steps": 2000, "loss": "hinge"}
SUMMARY = {"steps": 2000, "images_seen": 128000, "wall_time_s": 812.5, "mean_images_per_s": 157.5,
           "device": "cuda", "precision": "bf16"}
TABLE = {  # one shape results/table1.json may take; find_result also takes a plain list of rows
    "protocol": {"n_generated": 10000, "reference": "held-out cat faces", "features": "Inception pool3",
                 "ci": "95% bootstrap"},
    "rows": [
        {"model": "weights/gan-32", "fid": 120.0, "kid": 0.1, "cat_rate": 0.1},
        {"model": "weights/dcgan-64", "fid": {"value": 38.4172, "ci": [36.9, 40.2]},
         "kid": {"value": 0.02871, "lo": 0.0251, "hi": 0.0322}, "cat_rate": [0.734, 0.721, 0.747]},
    ],
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
    row = find_result(TABLE, ["/abs/elsewhere", "weights/dcgan-64"])
    assert row["model"] == "weights/dcgan-64" and row["protocol"]["n_generated"] == 10000
    card = render_card(CONFIG, train_config=TRAIN, metrics=row, repo_id="me/catgan-dcgan-64")
    assert "| FID | 38.42 | [36.90, 40.20] |" in card
    assert "| KID | 0.0287 | [0.0251, 0.0322] |" in card
    assert "| cat-rate | 0.734 | [0.721, 0.747] |" in card
    assert "### Protocol" in card and "- reference: held-out cat faces" in card
    meta = front_matter(card)
    assert meta["metrics"] == ["fid", "kid", "cat-rate"]
    results = meta["model-index"][0]["results"][0]
    assert results["task"]["type"] == "unconditional-image-generation"
    assert [(m["type"], m["value"]) for m in results["metrics"]] == [("fid", 38.4172), ("kid", 0.02871),
                                                                       ("cat-rate", 0.734)]
    assert ModelCard(card).data.eval_results[0].metric_value == 38.4172
    assert read_card_data(card)["metrics"] == row  # kept, so a re-publish can re-render the card


@pytest.mark.parametrize("table", [
    [{"name": "dcgan-64", "fid": 12.5, "fid_ci": [11, 14]}],
    {"dcgan-64": {"fid": 12.5, "fid_lo": 11, "fid_hi": 14}},
    {"results": [{"path": "weights/dcgan-64/", "metrics": {"FID": {"mean": 12.5, "ci95": [11, 14]}}}]},
])
def test_result_shapes(table):
    row = find_result(table, ["weights/dcgan-64", "dcgan-64"])
    assert [(m.key, m.value, m.ci) for m in metric_values(row)] == [("fid", 12.5, (11.0, 14.0))]
    assert find_result(table, ["gan-32"]) is None


def test_catgan_evaluate_rows():
    """The shape catgan.evaluate writes to results/table1.json: per-judge cat-rates, KID ± std."""
    table = {"protocol": {"cat_rule": "top-1 in classes 281-285; 95% CI: Wilson", "config": {"n": 5000}},
             "rows": [{"name": "real", "source": "cats.zip", "fid": 1.0, "kid": 0.0, "kid_std": 0.0, "judges": {}},
                      {"name": "generator", "source": "runs/other/generator", "fid": 99.0, "kid": 0.1, "judges": {}},
                      {"name": "generator", "source": "runs/dcgan-64/generator", "n": 5000, "fid": 31.337,
                       "kid": 0.0213, "kid_std": 0.0011,
                       "judges": {"resnet50": {"cat_rate": 0.812, "ci95": [0.801, 0.823], "mean_p_cat": 0.7},
                                  "mobilenet_v2": {"cat_rate": 0.64, "ci95": [0.627, 0.653]}}}]}
    row = find_result(table, ["/abs/runs/dcgan-64/generator", "runs/dcgan-64/generator", "generator"])
    assert row["source"] == "runs/dcgan-64/generator"
    card = render_card(CONFIG, metrics=row)
    for line in ("| FID | 31.34 | n/a |", "| KID | 0.0213 | ± 0.0011 |",
                 "| cat-rate (resnet50) | 0.812 | [0.801, 0.823] |",
                 "| cat-rate (mobilenet_v2) | 0.640 | [0.627, 0.653] |", "5000 generated images",
                 "- cat_rule: top-1 in classes 281-285", '"n": 5000'):
        assert line in card
    metrics = front_matter(card)["model-index"][0]["results"][0]["metrics"]
    assert [(m["type"], m["value"]) for m in metrics] == [("fid", 31.337), ("kid", 0.0213), ("cat-rate", 0.812),
                                                          ("cat-rate", 0.64)]


def test_cifar_runs_cite_cifar():
    card = render_card(ModelConfig(arch="gan", img_size=32), train_config={"data": "cifar10.zip"})
    assert front_matter(card)["datasets"] == ["uoft-cs/cifar10"] and "krizhevsky2009learning" in card
    assert "fully connected GAN" in card and 'load_generator("weights/gan-32")' in card
