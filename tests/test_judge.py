"""Judges: cat / not-cat on real photos, every input form, preprocessing against torchvision, loading and
the offline fallback; resnet-animals: its weights folder, training, resume, EMA, ship and the command line.

Training runs are tiny (width 8, 24-56 images, a few steps), so the file takes seconds, not minutes."""
import io
import json
import runpy
import socket
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CIFAR, ROOT, assert_fp16_file_loads_exactly, jpeg_bytes, write_zip
from huggingface_hub import constants
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn
from torchvision.transforms.v2 import functional as TF

from catgan.judges import JUDGES, JudgeFallbackWarning, JudgeUnavailable, load_judge, train_animals
from catgan.judges.__main__ import main
from catgan.judges.animals import (
    ANIMALS,
    NOT_ANIMALS,
    OTHER,
    AnimalNetConfig,
    CifarResNet,
    FastResNet,
    load_cifar,
    resnet_animals,
)
from catgan.judges.base import Judge, Preprocess
from catgan.judges.imagenet import BIG_CAT_CLASSES, CAT_CLASSES, imagenet_labels
from catgan.judges.train_animals import AnimalTrainConfig, _cutout, train
from catgan.train.checkpoint import load_checkpoint
from catgan.train.ema import EMA
from catgan.weights import save_folder

skimage_data = pytest.importorskip("skimage.data")

SHIPPED = ROOT / "weights" / "resnet-animals"
# CIFAR-10's channel statistics, as published: what the resnet-animals nets expect after [0, 1] scaling
CIFAR_MEAN, CIFAR_STD = [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]
TINY = ["--depth", "8", "--width", "8", "--batch-size", "8"]


@pytest.fixture(scope="module")
def photos():
    return Image.fromarray(skimage_data.chelsea()), Image.fromarray(skimage_data.coffee())


def synthetic_cifar(per_class: int, seed: int, classes=ANIMALS + NOT_ANIMALS) -> dict[str, bytes]:
    """Random 32x32 PNGs in the cifar10.zip layout (lossless, so every load gives the same tensors)."""
    rng = np.random.default_rng(seed)
    return {f"{split}/{cls}/{i:04d}.png": jpeg_bytes(Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)), "PNG")
            for split in ("train", "test") for cls in classes for i in range(per_class)}


@pytest.fixture(scope="module")
def animals_zip(tmp_path_factory) -> Path:
    """5 images per class and split, vehicles included; --limit-per-class 4 gives 24 animals: 3 steps of 8."""
    return write_zip(tmp_path_factory.mktemp("cifar") / "cifar10.zip", synthetic_cifar(5, seed=1))


_loaded = {}


def get_judge(name):
    """Load once per session; tests stay offline (resnet50 only from the torchvision cache)."""
    if name not in _loaded:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HF_HUB_OFFLINE", "1")
            try:
                _loaded[name] = load_judge(name, fallback=False)
            except JudgeUnavailable as err:
                _loaded[name] = err
    if isinstance(_loaded[name], JudgeUnavailable):
        pytest.skip(f"{name} weights not available here: {_loaded[name]}")
    return _loaded[name]


# ---- every judge on real photos ------------------------------------------------------------------

@pytest.mark.parametrize("name", list(JUDGES))
def test_chelsea_is_cat_coffee_is_not(name, photos):
    judge = get_judge(name)
    cat, coffee = judge.score(list(photos))
    assert cat.is_cat and cat.p_cat > 0.5, cat.top5
    assert not coffee.is_cat, coffee.top5
    if len(judge.labels) == 1000:  # ImageNet judges can name it; resnet-animals has at most an `other` class
        assert coffee.p_cat < 0.1, coffee.top5
    assert cat.judge == judge.name and cat.weights == judge.weights
    assert len(cat.top5) == 5 and [p for _, p in cat.top5] == sorted((p for _, p in cat.top5), reverse=True)


# ---- inputs and preprocessing --------------------------------------------------------------------

def test_every_input_form_gives_the_same_answer(photos):
    """PIL images of any mode and size, uint8 and [-1, 1] tensors, batches: the shipped resnet-animals
    (32 px, fast) calls every cat form a cat, and equal pixels give equal probabilities."""
    judge = resnet_animals(SHIPPED)
    cat, coffee = photos
    small = np.array(cat.resize((96, 64)))
    cat_uint8 = torch.from_numpy(small).permute(2, 0, 1)  # (3, 64, 96)
    cat_float = cat_uint8.float() / 127.5 - 1
    images = [
        cat,  # 451x300 RGB
        cat.convert("L"),  # greyscale
        cat.convert("RGBA"),  # opaque alpha
        cat.convert("P"),  # palette
        Image.open(io.BytesIO(jpeg_bytes(cat.resize((120, 80))))),  # decoded JPEG, small
        Image.fromarray(small),  # the same pixels as the two tensors
        cat_uint8,
        cat_float,
        coffee.resize((64, 64)),  # tiny
        coffee.convert("CMYK"),
    ]
    verdicts = judge.score(images, batch_size=3)
    assert [v.is_cat for v in verdicts] == [True] * 8 + [False] * 2, [v.top5[0] for v in verdicts]
    p = [v.p_cat for v in verdicts]
    assert p[2] == p[0]  # opaque alpha changes nothing
    assert p[5] == pytest.approx(p[6], abs=1e-6) and p[6] == pytest.approx(p[7], abs=1e-6)
    assert judge.score([images[7]])[0].p_cat == pytest.approx(p[7], abs=1e-6)  # batching changes nothing
    batch = judge.score(torch.stack([cat_float, cat_float]))  # an (N, 3, H, W) batch tensor
    assert [v.p_cat for v in batch] == pytest.approx([p[7]] * 2, abs=1e-6)
    clear = Image.new("RGBA", (40, 40), (0, 0, 0, 0))  # transparent black is white, not black
    assert judge.probs([clear]).tolist() == judge.probs([Image.new("RGB", (40, 40), "white")]).tolist()
    with pytest.raises(TypeError, match="PIL images"):
        judge.score(["cat.jpg"])
    with pytest.raises(ValueError, match="1, 3 or 4 channels"):
        judge.score([torch.zeros(2, 8, 8)])


def test_preprocessing_matches_torchvision():
    """Short side to `resize` (bilinear, antialiased), centre crop, normalise: torchvision's
    Resize + CenterCrop + Normalize, on an image whose resized size is a whole number."""
    prep = Preprocess(resize=232, crop=224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    judge = Judge("identity", nn.Identity(), ["x"], cat_classes=[0], preprocess=prep, weights="")
    x01 = torch.rand(2, 3, 300, 450, generator=torch.Generator().manual_seed(0))
    expected = TF.normalize(TF.center_crop(TF.resize(x01, [232], antialias=True), [224]), prep.mean, prep.std)
    assert torch.allclose(judge.prepare(x01 * 2 - 1), expected, atol=1e-5)
    assert torch.allclose(judge.prepare(list(x01 * 2 - 1)), expected, atol=1e-5)  # a list: one at a time


def test_big_cats_are_reported_but_not_counted():
    prep = Preprocess(resize=224, crop=224, mean=(0.5,) * 3, std=(0.5,) * 3)
    judge = Judge("imagenet", nn.Identity(), imagenet_labels(), cat_classes=CAT_CLASSES,
                  big_cat_classes=BIG_CAT_CLASSES, preprocess=prep, weights="")
    probs = torch.zeros(2, 1000)
    probs[0, 291], probs[0, 281] = 0.6, 0.4  # lion first, tabby second
    probs[1, 285] = 1.0  # Egyptian cat
    lion, egyptian = judge.verdicts(probs)
    assert lion.top5[0][0] == "lion" and not lion.is_cat and lion.is_big_cat
    assert lion.p_cat == pytest.approx(0.4) and lion.p_big_cat == pytest.approx(0.6)
    assert egyptian.top5[0][0] == "Egyptian cat" and egyptian.is_cat and not egyptian.is_big_cat
    assert egyptian.p_big_cat == 0


# ---- ImageNet judges: loading and fallback -------------------------------------------------------

@pytest.fixture(scope="module")
def resnet50_file(tmp_path_factory):
    """A ResNet-50 state dict written by the test (random weights, fp16 to keep it small)."""
    from torchvision.models import resnet50
    path = tmp_path_factory.mktemp("resnet50") / "resnet50.safetensors"
    save_file({k: v.half() if v.is_floating_point() else v for k, v in resnet50(weights=None).state_dict().items()},
              path)
    return path


def test_resnet50_loads_its_weights_from_a_file_or_the_environment(resnet50_file, monkeypatch):
    saved = load_file(resnet50_file)
    judge = load_judge("resnet50", weights=resnet50_file)
    assert judge.name == "resnet50" and judge.weights == str(resnet50_file)
    assert judge.preprocess.resize == 232 and judge.preprocess.crop == 224 and len(judge.labels) == 1000
    assert all(torch.equal(v, saved[k].to(v.dtype)) for k, v in judge.model.state_dict().items())
    monkeypatch.setenv("CATGAN_RESNET50", str(resnet50_file))  # read at call time
    from_env = load_judge("resnet50", fallback=False)
    assert from_env.weights == str(resnet50_file) and torch.equal(from_env.model.fc.weight, judge.model.fc.weight)


def test_resnet50_rejects_a_wrong_file(tmp_path):
    from torchvision.models import mobilenet_v2
    path = tmp_path / "mobilenet.pth"
    torch.save(mobilenet_v2(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match="not a resnet50 state dict"):
        load_judge("resnet50", weights=path)


@pytest.fixture
def stand_in(monkeypatch):
    """The offline judge replaced by a cheap stand-in: only the hand-over is under test."""
    judge = Judge("efficientnet_lite0", nn.Identity(), ["x"], cat_classes=[0],
                  preprocess=Preprocess(8, 8, (0.5,) * 3, (0.5,) * 3), weights="stand-in")
    monkeypatch.setitem(JUDGES, "efficientnet_lite0", lambda weights=None: judge)
    return judge


def test_resnet50_offline_falls_back_with_a_notice(tmp_path, monkeypatch, stand_in):
    monkeypatch.delenv("CATGAN_RESNET50", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # empty torchvision cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.warns(JudgeFallbackWarning, match="resnet50.*unavailable.*using 'efficientnet_lite0'"):
        assert load_judge("resnet50") is stand_in
    with pytest.raises(JudgeUnavailable, match="HF_HUB_OFFLINE"):
        load_judge("resnet50", fallback=False)


def test_resnet50_download_failure_falls_back(tmp_path, monkeypatch, stand_in):
    import torchvision.models._api as tv_api

    def no_network(url, *a, **k):
        raise OSError(f"<urlopen error [Errno -2] Name or service not known> {url}")

    monkeypatch.delenv("CATGAN_RESNET50", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # as read at import, when CI sets it
    with socket.socket() as s:  # a port nothing listens on: the Hub is unreachable
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{s.getsockname()[1]}")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(tv_api, "load_state_dict_from_url", no_network)
    with pytest.warns(JudgeFallbackWarning, match="could not fetch resnet50"):
        assert load_judge("resnet50") is stand_in


def test_mobilenet_path_is_read_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv("CATGAN_MOBILENET_V2", str(tmp_path / "missing.pth"))
    with pytest.raises(JudgeUnavailable, match="CATGAN_MOBILENET_V2"):
        load_judge("mobilenet_v2", fallback=False)
    with pytest.raises(ValueError, match="unknown judge"):
        load_judge("vgg16")


# ---- resnet-animals: the weights folder ----------------------------------------------------------

def cifar_normalised(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] 32x32 images as the nets were trained on them, written out with torchvision."""
    return TF.normalize((x + 1) / 2, CIFAR_MEAN, CIFAR_STD)


def test_resnet_animals_folder_round_trip_and_strict_loading(tmp_path):
    model = CifarResNet(AnimalNetConfig(depth=8, width=8)).eval()
    save_folder(tmp_path / "ra", model, model.config, card="# card")
    judge = resnet_animals(tmp_path / "ra")
    assert judge.labels == list(ANIMALS) and judge.cat_classes == [ANIMALS.index("cat")]
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    with torch.inference_mode():
        expected = model(cifar_normalised(x)).softmax(-1)
    assert torch.allclose(judge.probs(x), expected, atol=1e-5)

    with pytest.raises(JudgeUnavailable, match="python -m catgan.judges train"):
        resnet_animals(tmp_path / "nothing")
    wider = CifarResNet(AnimalNetConfig(depth=8, width=16))
    save_folder(tmp_path / "wrong", wider, model.config, card="")  # a config that doesn't match its weights
    with pytest.raises(ValueError, match="wrong_shape"):
        resnet_animals(tmp_path / "wrong")
    with torch.no_grad():
        model.fc.bias[0] = float("nan")
    save_folder(tmp_path / "nan", model, model.config, card="")
    with pytest.raises(ValueError, match="NaN"):
        resnet_animals(tmp_path / "nan")


def test_fast_resnet_with_flip_averaging_round_trips_through_fp16(tmp_path):
    model = FastResNet(AnimalNetConfig(width=8, arch="fast-resnet", flip_tta=True))
    model.init_whitening(torch.randn(16, 3, 32, 32))
    model.fc.weight.data *= 100  # confident enough that an image and its mirror get different answers
    model.eval()
    save_folder(tmp_path / "ra", model, model.config, card="# card", fp16=True)
    judge = resnet_animals(tmp_path / "ra")
    assert_fp16_file_loads_exactly(judge.model.net, tmp_path / "ra" / "model.safetensors")  # fp16 on disk
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    with torch.inference_mode():
        plain = model(cifar_normalised(x)).softmax(-1)
        expected = (plain + model(cifar_normalised(x.flip(3))).softmax(-1)) / 2
    assert torch.allclose(judge.probs(x), expected, atol=2e-3)  # fp16 rounding of the weights
    assert not torch.allclose(expected, plain, atol=1e-3)  # the mirror does count


def test_whitening_stem_decorrelates_patches():
    """The 12 positive stem filters map 2x2 patches of the data to ~unit, uncorrelated features."""
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(64, 1, 32, 32, generator=gen)
    x = torch.cat([base, 0.8 * base + 0.2 * torch.randn(64, 1, 32, 32, generator=gen),
                   torch.randn(64, 1, 32, 32, generator=gen) + 0.5], 1)  # correlated channels, an offset
    net = FastResNet(AnimalNetConfig(width=8, arch="fast-resnet"))
    net.init_whitening(x, eps=1e-6)
    with torch.no_grad():
        feats = net.stem(x)[:, :12].permute(0, 2, 3, 1).reshape(-1, 12)
    assert feats.mean(0).abs().max() < 1e-3  # the bias centres them
    assert torch.allclose(feats.T @ feats / len(feats), torch.eye(12), atol=1e-2)
    assert torch.equal(net.stem(x)[:, 12:], -net.stem(x)[:, :12])
    assert not net.stem.weight.requires_grad


def test_cutout_blanks_one_square_per_image_clipped_at_the_border():
    x = torch.randn(64, 3, 32, 32) + 5  # no pixel is 0 before cutout
    out = _cutout(x, torch.Generator().manual_seed(0), 8)
    blank = (out == 0).all(1)  # (N, 32, 32): pixels blanked in every channel
    assert torch.equal(out[~blank[:, None].expand_as(out)], x[~blank[:, None].expand_as(x)])
    counts = blank.sum((1, 2))
    assert counts.max() == 64 and counts.min() > 0 and (counts < 64).any()  # whole squares, and clipped ones
    rows, cols = blank.any(2), blank.any(1)  # a square: its pixels are exactly rows x cols
    assert torch.equal(blank, rows[:, :, None] & cols[:, None, :])


# ---- resnet-animals: training, resume, EMA, ship -------------------------------------------------

def test_train_command_on_a_tiny_subset(tmp_path, photos):
    """The real cifar10.zip when ../shared has it (else a synthetic one), 4 images per class."""
    data = CIFAR if CIFAR.is_file() else write_zip(tmp_path / "cifar.zip", synthetic_cifar(4, seed=0, classes=ANIMALS))
    out = tmp_path / "resnet-animals"
    assert main(["train", "--data", str(data), "--out", str(out), "--run", str(tmp_path / "run"), *TINY,
                 "--limit-per-class", "4", "--max-steps", "2", "--precision", "fp32"]) == 0
    card = (out / "README.md").read_text()
    assert "Measured test accuracy" in card and "24 CIFAR-10 test images" in card
    assert "python -m catgan.judges train" in card and "--precision fp32" in card
    assert json.loads((out / "config.json").read_text()) == {"depth": 8, "width": 8, "classes": list(ANIMALS),
                                                             "arch": "cifar-resnet", "flip_tta": False}
    verdict = load_judge("resnet-animals", weights=out).score([photos[0]])[0]
    assert verdict.judge == "resnet-animals" and len(verdict.top5) == 5


def test_other_class_learns_from_vehicles_and_accuracy_counts_animals_only(tmp_path, animals_zip, photos):
    x, y = load_cifar(animals_zip, "train", ANIMALS, limit_per_class=4, other_per_class=2)
    assert x.shape == (6 * 4 + 4 * 2, 3, 32, 32) and x.dtype == torch.uint8
    assert torch.bincount(y).tolist() == [4] * 6 + [8]
    assert len(load_cifar(animals_zip, "train", ANIMALS, other_per_class=0)[1]) == 6 * 5
    assert torch.bincount(load_cifar(animals_zip, "test", ANIMALS, other_per_class=None)[1]).tolist() == [5] * 6 + [20]

    out = tmp_path / "ra"
    assert main(["train", "--data", str(animals_zip), "--out", str(out), "--run", str(tmp_path / "run"), *TINY,
                 "--other-per-class", "2", "--max-steps", "2"]) == 0
    assert json.loads((out / "config.json").read_text())["classes"] == [*ANIMALS, OTHER]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())["test"]
    assert (summary["n"], summary["n_other"]) == (30, 20) and set(summary["per_class"]) == {*ANIMALS, OTHER}
    card = (out / "README.md").read_text()
    assert "30 CIFAR-10 test images of the six animal classes" in card and "20 vehicle test images" in card
    judge = load_judge("resnet-animals", weights=out)
    assert list(judge.labels) == [*ANIMALS, OTHER] and judge.cat_classes == [ANIMALS.index("cat")]
    assert set(dict(judge.score([photos[1]])[0].top5)) <= {*ANIMALS, OTHER}


def test_ship_copies_a_run_remeasures_it_and_rewrites_the_card(tmp_path, capsys):
    images = synthetic_cifar(4, seed=3)
    data = write_zip(tmp_path / "elsewhere.zip", images)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run / "export"), "--run", str(run), *TINY,
                 "--other-per-class", "2", "--max-steps", "2"]) == 0
    same = write_zip(tmp_path / "cifar10.zip", images)  # the same images under the path a user has
    out = tmp_path / "weights" / "resnet-animals"
    assert main(["ship", str(run), "--out", str(out), "--data", str(same), "--note", "Trained on a lent GPU."]) == 0
    shipped, exported = load_file(out / "model.safetensors"), load_file(run / "export" / "model.safetensors")
    assert shipped.keys() == exported.keys()
    assert all(shipped[k].dtype == v.dtype and torch.equal(shipped[k], v) for k, v in exported.items())
    assert (out / "config.json").read_text() == (run / "export" / "config.json").read_text()
    card = (out / "README.md").read_text()
    assert "Trained on a lent GPU." in card and f"--data {same}" in card and str(data) not in card
    shipped_summary = json.loads((run / "summary-shipped.json").read_text())
    assert shipped_summary["test"] == json.loads((run / "summary.json").read_text())["test"]
    capsys.readouterr()

    del images["test/cat/0003.png"]  # other test images: the run's figure can't be vouched for
    other = write_zip(tmp_path / "other.zip", images)
    assert main(["ship", str(run), "--out", str(tmp_path / "x"), "--data", str(other)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "not the same weights or test images" in err
    assert not (tmp_path / "x").exists()  # nothing written when refused
    assert main(["ship", str(run), "--out", str(run / "export"), "--data", str(same)]) == 1
    assert "the run's own export" in capsys.readouterr().err
    assert main(["ship", str(tmp_path / "no-run"), "--out", str(tmp_path / "y")]) == 1
    assert "summary.json" in capsys.readouterr().err


@pytest.mark.slow
def test_train_resumes_exactly_from_an_epoch_checkpoint(tmp_path, animals_zip, capsys):
    """Stopping after epoch 1 and resuming gives the same weights as one uninterrupted run (the richest
    recipe: fast-resnet, one-cycle, EMA, cutout, mirror averaging)."""
    common = ["train", "--data", str(animals_zip), *TINY, "--limit-per-class", "4", "--epochs", "2",
              "--arch", "fast-resnet", "--schedule", "onecycle", "--ema", "0.9", "--pad", "2", "--flip-tta",
              "--cutout", "8"]  # 24 images: 3 steps per epoch
    assert main(common + ["--out", str(tmp_path / "straight"), "--run", str(tmp_path / "run-a")]) == 0
    assert main(common + ["--out", str(tmp_path / "first"), "--run", str(tmp_path / "run-b"), "--max-steps", "3"]) == 0
    assert main(common + ["--out", str(tmp_path / "resumed"), "--run", str(tmp_path / "run-b"), "--resume"]) == 0
    straight, resumed = (load_file(tmp_path / name / "model.safetensors") for name in ("straight", "resumed"))
    first = load_file(tmp_path / "first" / "model.safetensors")
    assert any(not torch.equal(first[k], straight[k]) for k in straight)  # the resume did train on
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    logged = [json.loads(line) for line in (tmp_path / "run-b" / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in logged] == [1, 2]
    capsys.readouterr()
    assert main(common + ["--width", "16", "--run", str(tmp_path / "run-b"), "--resume", "--out", str(tmp_path / "x")]) == 1
    assert "--width (checkpoint: 8, now: 16)" in capsys.readouterr().err


def test_resume_refuses_changed_settings_and_the_ema_is_catgan_ema(tmp_path, animals_zip, monkeypatch):
    """The trainer ships catgan.train.ema.EMA (updated once per step, with the step for its warm-up), and its run
    folder goes through catgan.train.checkpoint: on --resume training settings must match (length and place
    may change); without it, a folder holding a run is refused unless --overwrite moves it aside."""
    assert train_animals.EMA is EMA
    made = []

    class RecordingEMA(EMA):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.steps = []
            made.append(self)

        def update(self, model, step):
            self.steps.append(step)
            super().update(model, step)

    monkeypatch.setattr(train_animals, "EMA", RecordingEMA)
    cfg = AnimalTrainConfig(data=str(animals_zip), out=str(tmp_path / "out"), run=str(tmp_path / "run"), depth=8,
                            width=8, limit_per_class=4, batch_size=8, epochs=1, ema=0.5, precision="fp32")
    train(cfg, progress=False)
    (ema,) = made
    assert ema.decay == 0.5 and ema.steps == [0, 1, 2]
    shipped = load_file(tmp_path / "out" / "model.safetensors")
    assert all(torch.equal(shipped[k], v) for k, v in ema.model.state_dict().items())  # the average is what ships
    state = load_checkpoint(tmp_path / "run")
    assert all(torch.equal(state["ema"][k], v) for k, v in ema.model.state_dict().items())
    assert not torch.equal(state["model"]["fc.weight"], shipped["fc.weight"])  # and it isn't the live weights

    moved = replace(cfg, resume=True, max_steps=9, device="cpu", out=str(tmp_path / "elsewhere"))
    with pytest.raises(ValueError) as err:
        train(replace(moved, lr=0.2, ema=0.9), progress=False)
    assert "--lr (checkpoint: 0.1, now: 0.2)" in str(err.value) and "--ema (checkpoint: 0.5, now: 0.9)" in str(err.value)
    assert "--max-steps" not in str(err.value) and "--out" not in str(err.value)
    with pytest.raises(ValueError, match="already holds a run"):
        train(cfg, progress=False)  # without --resume a run is never trained over by accident
    train(replace(cfg, overwrite=True, max_steps=1), progress=False)
    assert len(list(tmp_path.glob("run.replaced-*/checkpoint.pt"))) == 1  # the old run, kept aside
    with pytest.raises(ValueError, match="--precision must be one of"):
        replace(cfg, precision="fp16")


def test_python_m_catgan_judge_is_the_same_command(tmp_path, monkeypatch, capsys, photos):
    """The README's `python -m catgan.judges` runs catgan/judges/__main__.py; a mistake is one line."""
    photos[0].save(tmp_path / "chelsea.png")

    def run_module(*args):
        monkeypatch.setattr(sys, "argv", ["catgan.judges", *args])
        with pytest.raises(SystemExit) as exit_:
            runpy.run_module("catgan.judges", run_name="__main__")
        return exit_.value.code

    assert run_module("score", str(tmp_path / "chelsea.png"), "--judge", "resnet-animals") == 0
    assert ": CAT P(cat)=" in capsys.readouterr().out
    assert run_module("score", str(tmp_path / "missing.jpg"), "--judge", "resnet-animals") == 2  # a wrong path
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "missing.jpg" in err
