"""Judges: cat / not-cat on real photos, mixed inputs, resnet50 loading + offline fallback, resnet-animals."""
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from catgan.judge import JUDGES, JudgeFallbackWarning, JudgeUnavailable, load_judge, main
from catgan.judges.animals import (ANIMALS, NOT_ANIMALS, OTHER, AnimalNetConfig, CifarResNet, FastResNet, load_cifar,
                                   resnet_animals, save_folder)
from catgan.judges.train_animals import _cutout
from conftest import CIFAR, jpeg_bytes, write_zip

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def photos():
    return Image.fromarray(skimage_data.chelsea()), Image.fromarray(skimage_data.coffee())


_loaded = {}


def get_judge(name):
    """Load once per session; tests stay offline (resnet50 only from the torchvision cache)."""
    if name not in _loaded:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("CATGAN_OFFLINE", "1")
            try:
                _loaded[name] = load_judge(name, fallback=False)
            except JudgeUnavailable as err:
                _loaded[name] = err
    if isinstance(_loaded[name], JudgeUnavailable):
        pytest.skip(f"{name} weights not available here: {_loaded[name]}")
    return _loaded[name]


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


def test_mixed_sizes_and_modes(photos):
    judge = get_judge("efficientnet_lite0")
    cat, coffee = photos
    cat_t = torch.from_numpy(np.array(cat.resize((96, 64)))).permute(2, 0, 1).float() / 127.5 - 1
    images = [
        cat,  # 451x300 RGB
        cat.convert("L"),  # greyscale
        cat.convert("RGBA"),  # alpha
        cat.convert("P"),  # palette
        Image.open(io.BytesIO(jpeg_bytes(cat.resize((120, 80))))),  # decoded JPEG, small
        cat_t,  # [-1, 1] tensor, non-square
        coffee.resize((64, 64)),  # tiny
        coffee.convert("CMYK"),
    ]
    verdicts = judge.score(images, batch_size=3)
    assert [v.is_cat for v in verdicts] == [True] * 6 + [False] * 2, [v.top5[0] for v in verdicts]
    # batching doesn't change results: the same image alone gives the same probabilities
    alone = judge.score([images[5]])[0]
    assert alone.p_cat == pytest.approx(verdicts[5].p_cat, abs=1e-5)
    # a (N, 3, H, W) batch tensor in [-1, 1] is accepted as is
    batch = judge.score(torch.stack([cat_t, cat_t]))
    assert len(batch) == 2 and batch[0].p_cat == pytest.approx(alone.p_cat, abs=1e-5)
    with pytest.raises(TypeError, match="PIL images"):
        judge.score(["cat.jpg"])


def test_big_cats_are_reported_but_not_counted():
    judge = get_judge("efficientnet_lite0")
    probs = torch.zeros(2, 1000)
    probs[0, 291], probs[0, 281] = 0.6, 0.4  # lion first, tabby second
    probs[1, 285] = 1.0  # Egyptian cat
    lion, egyptian = judge.verdicts(probs)
    assert lion.top5[0][0] == "lion" and not lion.is_cat and lion.is_big_cat
    assert lion.p_cat == pytest.approx(0.4) and lion.p_big_cat == pytest.approx(0.6)
    assert egyptian.is_cat and not egyptian.is_big_cat and egyptian.p_big_cat == 0


@pytest.fixture(scope="module")
def resnet50_file(tmp_path_factory):
    """A ResNet-50 state dict written by the test (random weights: only the loading path is tested)."""
    from safetensors.torch import save_file
    from torchvision.models import resnet50
    path = tmp_path_factory.mktemp("resnet50") / "resnet50.safetensors"
    save_file(resnet50(weights=None).state_dict(), path)
    return path


def test_resnet50_loads_from_a_weights_file(resnet50_file, monkeypatch, photos):
    judge = load_judge("resnet50", weights=resnet50_file)
    assert judge.name == "resnet50" and judge.weights == str(resnet50_file)
    assert judge.preprocess.resize == 232 and len(judge.labels) == 1000
    monkeypatch.setenv("CATGAN_RESNET50", str(resnet50_file))  # read at call time
    verdict = load_judge("resnet50").score([photos[0]])[0]
    assert verdict.judge == "resnet50" and sum(p for _, p in verdict.top5) <= 1 + 1e-6


def test_resnet50_rejects_a_wrong_file(tmp_path):
    from torchvision.models import mobilenet_v2
    path = tmp_path / "mobilenet.pth"
    torch.save(mobilenet_v2(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match="not a resnet50 state dict"):
        load_judge("resnet50", weights=path)


def test_resnet50_offline_falls_back_with_a_notice(tmp_path, monkeypatch):
    monkeypatch.delenv("CATGAN_RESNET50", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # empty torchvision cache
    monkeypatch.setenv("CATGAN_OFFLINE", "1")
    with pytest.warns(JudgeFallbackWarning, match="resnet50.*unavailable.*using 'efficientnet_lite0'"):
        judge = load_judge("resnet50")
    assert judge.name == "efficientnet_lite0"
    with pytest.raises(JudgeUnavailable, match="CATGAN_OFFLINE"):
        load_judge("resnet50", fallback=False)


def test_resnet50_download_failure_falls_back(tmp_path, monkeypatch):
    import torchvision.models._api as tv_api

    def no_network(url, *a, **k):
        raise OSError(f"<urlopen error [Errno -2] Name or service not known> {url}")

    monkeypatch.delenv("CATGAN_RESNET50", raising=False)
    monkeypatch.delenv("CATGAN_OFFLINE", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(tv_api, "load_state_dict_from_url", no_network)
    with pytest.warns(JudgeFallbackWarning, match="could not fetch resnet50"):
        assert load_judge("resnet50").name == "efficientnet_lite0"


def test_mobilenet_path_is_read_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv("CATGAN_MOBILENET_V2", str(tmp_path / "missing.pth"))
    with pytest.raises(JudgeUnavailable, match="CATGAN_MOBILENET_V2"):
        load_judge("mobilenet_v2", fallback=False)
    with pytest.raises(ValueError, match="unknown judge"):
        load_judge("vgg16")


def test_resnet_animals_round_trip(tmp_path):
    model = CifarResNet(AnimalNetConfig(depth=8, width=8)).eval()
    save_folder(model, tmp_path / "ra", "# card")
    judge = resnet_animals(tmp_path / "ra")
    assert judge.labels == list(ANIMALS) and judge.cat_classes == [ANIMALS.index("cat")]
    x = torch.rand(4, 3, 64, 64) * 2 - 1
    with torch.inference_mode():
        expected = model(judge._prepare(x)).softmax(-1)
    assert torch.allclose(judge.probs(x), expected, atol=1e-6)
    with pytest.raises(JudgeUnavailable, match="python -m catgan.judge train"):
        resnet_animals(tmp_path / "nothing")


def test_fast_resnet_with_flip_averaging_round_trips_through_fp16(tmp_path):
    model = FastResNet(AnimalNetConfig(width=8, arch="fast-resnet", flip_tta=True))
    model.init_whitening(torch.randn(16, 3, 32, 32))
    model.fc.weight.data *= 100  # confident enough that an image and its mirror get different answers
    model.eval()
    save_folder(model, tmp_path / "ra", "# card", fp16=True)
    judge = resnet_animals(tmp_path / "ra")
    assert next(judge.model.parameters()).dtype == torch.float32  # fp16 on disk, fp32 in memory
    x = torch.rand(4, 3, 40, 48) * 2 - 1
    with torch.inference_mode():
        prepared = judge._prepare(x)
        plain = model(prepared).softmax(-1)
        expected = (plain + model(prepared.flip(3)).softmax(-1)) / 2
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


def test_train_command_on_a_tiny_subset(tmp_path, photos):
    data = CIFAR
    if not data.is_file():  # fresh clone: a synthetic zip in the cifar10.zip layout
        rng = np.random.default_rng(0)
        data = write_zip(tmp_path / "cifar.zip", {
            f"{split}/{cls}/{i:04d}.jpg": jpeg_bytes(Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)))
            for split in ("train", "test") for cls in ANIMALS for i in range(4)})
    out = tmp_path / "resnet-animals"
    assert main(["train", "--data", str(data), "--out", str(out), "--depth", "8", "--width", "8",
                 "--limit-per-class", "4", "--max-steps", "2", "--batch-size", "8"]) == 0
    card = (out / "README.md").read_text()
    assert "Measured test accuracy" in card and "24 CIFAR-10 test images" in card
    assert (out / "model.safetensors").stat().st_size < 5_000_000
    verdict = load_judge("resnet-animals", weights=out).score([photos[0]])[0]
    assert verdict.judge == "resnet-animals" and len(verdict.top5) == 5


def test_other_class_learns_from_vehicles_and_accuracy_counts_animals_only(tmp_path, photos):
    rng = np.random.default_rng(2)
    data = write_zip(tmp_path / "cifar.zip", {
        f"{split}/{cls}/{i:04d}.png": jpeg_bytes(Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)), "PNG")
        for split in ("train", "test") for cls in ANIMALS + NOT_ANIMALS for i in range(5)})
    x, y = load_cifar(data, "train", ANIMALS, limit_per_class=4, other_per_class=2)
    assert x.shape == (6 * 4 + 4 * 2, 3, 32, 32) and torch.bincount(y).tolist() == [4] * 6 + [8]
    assert len(load_cifar(data, "train", ANIMALS, other_per_class=0)[1]) == 6 * 5
    assert torch.bincount(load_cifar(data, "test", ANIMALS, other_per_class=None)[1]).tolist() == [5] * 6 + [20]

    out = tmp_path / "ra"
    assert main(["train", "--data", str(data), "--out", str(out), "--run", str(tmp_path / "run"), "--depth", "8",
                 "--width", "8", "--other-per-class", "2", "--max-steps", "2", "--batch-size", "8"]) == 0
    assert json.loads((out / "config.json").read_text())["classes"] == [*ANIMALS, OTHER]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())["test"]
    assert (summary["n"], summary["n_other"]) == (30, 20) and set(summary["per_class"]) == {*ANIMALS, OTHER}
    card = (out / "README.md").read_text()
    assert "30 CIFAR-10 test images of the six animal classes" in card and "20 vehicle test images" in card
    judge = load_judge("resnet-animals", weights=out)
    assert list(judge.labels) == [*ANIMALS, OTHER] and judge.cat_classes == [ANIMALS.index("cat")]
    assert set(dict(judge.score([photos[1]])[0].top5)) <= {*ANIMALS, OTHER}


def test_ship_copies_a_run_remeasures_it_and_rewrites_the_card(tmp_path, capsys):
    rng = np.random.default_rng(3)
    images = {f"{split}/{cls}/{i:04d}.png": jpeg_bytes(Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)),
                                                       "PNG")
              for split in ("train", "test") for cls in ANIMALS + NOT_ANIMALS for i in range(4)}
    data = write_zip(tmp_path / "elsewhere.zip", images)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run / "export"), "--run", str(run), "--depth", "8",
                 "--width", "8", "--other-per-class", "2", "--max-steps", "2", "--batch-size", "8"]) == 0
    same = write_zip(tmp_path / "cifar10.zip", images)  # the same images under the path a user has
    out = tmp_path / "weights" / "resnet-animals"
    assert main(["ship", str(run), "--out", str(out), "--data", str(same), "--note", "Trained on a lent GPU."]) == 0
    assert load_file(out / "model.safetensors").keys() == load_file(run / "export" / "model.safetensors").keys()
    card = (out / "README.md").read_text()
    assert "Trained on a lent GPU." in card and f"--data {same}" in card and str(data) not in card
    shipped = json.loads((run / "summary-shipped.json").read_text())
    assert shipped["test"]["accuracy"] == json.loads((run / "summary.json").read_text())["test"]["accuracy"]

    del images["test/cat/0003.png"]  # other test images: the run's figure can't be vouched for
    other = write_zip(tmp_path / "other.zip", images)
    assert main(["ship", str(run), "--out", str(tmp_path / "x"), "--data", str(other)]) == 1
    assert "not the same weights or test images" in capsys.readouterr().err
    assert main(["ship", str(tmp_path / "no-run"), "--out", str(tmp_path / "y")]) == 1


def test_cutout_blanks_one_square_per_image_clipped_at_the_border():
    x = torch.randn(64, 3, 32, 32) + 5  # no pixel is 0 before cutout
    out = _cutout(x, torch.Generator().manual_seed(0), 8)
    blank = (out == 0).all(1)  # (N, 32, 32): pixels blanked in every channel
    assert torch.equal(out[~blank[:, None].expand_as(out)], x[~blank[:, None].expand_as(x)])
    counts = blank.sum((1, 2))
    assert counts.max() == 64 and counts.min() > 0 and (counts < 64).any()  # whole squares, and clipped ones
    rows, cols = blank.any(2), blank.any(1)  # a square: its pixels are exactly rows x cols
    assert torch.equal(blank, rows[:, :, None] & cols[:, None, :])


@pytest.mark.parametrize("recipe", [
    [],  # ResNet-8, cosine
    ["--arch", "fast-resnet", "--schedule", "onecycle", "--ema", "0.9", "--pad", "2", "--flip-tta", "--cutout", "8"],
])
def test_train_resumes_exactly_from_an_epoch_checkpoint(tmp_path, recipe):
    """Stopping after epoch 1 and resuming gives the same weights as one uninterrupted run."""
    rng = np.random.default_rng(1)
    data = write_zip(tmp_path / "cifar.zip", {
        f"{split}/{cls}/{i:04d}.png": jpeg_bytes(Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)), "PNG")
        for split in ("train", "test") for cls in ANIMALS for i in range(4)})
    common = ["train", "--data", str(data), "--depth", "8", "--width", "8", "--limit-per-class", "4",
              "--batch-size", "8", "--epochs", "2", *recipe]  # 24 images: 3 steps per epoch
    assert main(common + ["--out", str(tmp_path / "straight"), "--run", str(tmp_path / "run-a")]) == 0
    assert main(common + ["--out", str(tmp_path / "first"), "--run", str(tmp_path / "run-b"), "--max-steps", "3"]) == 0
    assert main(common + ["--out", str(tmp_path / "resumed"), "--run", str(tmp_path / "run-b"), "--resume"]) == 0
    straight, resumed = (load_file(tmp_path / name / "model.safetensors") for name in ("straight", "resumed"))
    first = load_file(tmp_path / "first" / "model.safetensors")
    assert any(not torch.equal(first[k], straight[k]) for k in straight)  # the resume did train on
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    logged = [json.loads(line) for line in (tmp_path / "run-b" / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in logged] == [1, 2]
    with pytest.raises(ValueError, match="width"):
        main(common + ["--width", "16", "--run", str(tmp_path / "run-b"), "--resume", "--out", str(tmp_path / "x")])
