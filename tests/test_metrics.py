"""Metrics: Wilson interval, FID/KID maths, Inception features on real CIFAR-10, caching, near-copies."""
import numpy as np
import pytest
import torch
from conftest import CIFAR

from catgan.eval import metrics
from catgan.eval.inception import FIDInception, inception_features, inception_weights_path, load_inception

N_PER_SET = 60  # small-n FID is biased upward; only the ordering is tested


@pytest.mark.parametrize("k, n, lo, hi", [
    (5, 10, 0.236593, 0.763407),  # symmetric case
    (0, 10, 0.0, 0.277533),  # zero successes: the upper bound is z^2 / (n + z^2)
    (10, 10, 0.722467, 1.0),
    (81, 263, 0.255289, 0.366210),  # statsmodels proportion_confint(81, 263, method="wilson")
])
def test_wilson_interval_known_values(k, n, lo, hi):
    assert metrics.wilson_interval(k, n) == pytest.approx((lo, hi), abs=1e-6)


def test_cat_rate_summary():
    row = metrics.cat_rate([True, False, True, True], [0.9, 0.1, 0.8, 0.7])
    assert row["cat_rate"] == 0.75 and row["cats"] == 3 and row["n"] == 4
    assert row["mean_p_cat"] == pytest.approx(0.625) and row["ci95"][0] < 0.75 < row["ci95"][1]


def test_fid_matches_scipy_sqrtm_and_is_zero_on_itself():
    linalg = pytest.importorskip("scipy.linalg")
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(400, 32, generator=gen, dtype=torch.float64)
    b = torch.randn(400, 32, generator=gen, dtype=torch.float64) @ torch.eye(32, dtype=torch.float64).mul(1.5) + 0.3
    mu1, s1 = metrics.feature_stats(a)
    mu2, s2 = metrics.feature_stats(b)
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(linalg.sqrtm(s1 @ s2).real)
    assert metrics.fid(a, b) == pytest.approx(ref, rel=1e-8)
    assert metrics.fid(a, a) == pytest.approx(0, abs=1e-8)


def test_fid_low_rank_route_matches_the_covariance_route():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(40, 64, generator=gen, dtype=torch.float64)
    b = torch.randn(50, 64, generator=gen, dtype=torch.float64) * 0.8 + 0.2
    via_stats = metrics.fid_from_stats(*metrics.feature_stats(a), *metrics.feature_stats(b))
    assert metrics.fid(a, b) == pytest.approx(via_stats, rel=1e-6)  # n < D: the SVD route
    assert metrics.fid(a, a) == pytest.approx(0, abs=1e-8)


def test_kid_is_small_for_one_distribution_and_large_for_two():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 300, 64, generator=gen, dtype=torch.float64)
    same, _ = metrics.kid(a, b, subsets=10, subset_size=200)
    shifted, _ = metrics.kid(a, b + 1.0, subsets=10, subset_size=200)
    assert abs(same) < 0.01 < shifted


def test_every_registered_feature_metric_puts_a_shifted_set_farther():
    """The registry's contract: each entry takes (real, generated) features and returns a distance
    (or a (mean, std) pair) that is larger for a shifted set than for a second draw of the same one."""
    gen = torch.Generator().manual_seed(2)
    real, same = torch.randn(2, 100, 8, generator=gen, dtype=torch.float64)
    assert metrics.FEATURE_METRICS, "the registry is empty"
    for name, metric in metrics.FEATURE_METRICS.items():
        near, far = (metric(real, other) for other in (same, same + 0.5))
        near, far = (v[0] if isinstance(v, tuple) else v for v in (near, far))
        assert near < far, (name, near, far)


def test_precision_and_recall_tell_realism_from_coverage():
    """A second draw of the same distribution is inside the real manifold and covers it; a set pulled
    toward the mean (truncation) is realistic but covers little; a shifted set is neither."""
    gen = torch.Generator().manual_seed(3)
    real, same = torch.randn(2, 600, 4, generator=gen, dtype=torch.float64)
    p_same, r_same = metrics.precision_recall(real, same)
    p_narrow, r_narrow = metrics.precision_recall(real, same * 0.3)
    p_far, r_far = metrics.precision_recall(real, same + 3.0)
    assert p_same > 0.8 and r_same > 0.8
    assert p_narrow > 0.95 and r_narrow < 0.5
    assert p_far < 0.2 and r_far < 0.2
    assert metrics.precision_recall(real[:50], same) == metrics.precision_recall(real[:50], same)  # seeded
    with pytest.raises(ValueError, match="more than k=3"):
        metrics.precision_recall(real[:3], same)


def test_features_are_cached_by_content(tmp_path):
    calls = []

    def extract(x):
        calls.append(len(x))
        return torch.randn(len(x), 8, dtype=torch.float64)

    images = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8)
    first = metrics.cached_features(images, extract, tmp_path)
    again = metrics.cached_features(images.clone(), extract, tmp_path)
    assert calls == [5] and torch.equal(first, again)
    other = images.clone()
    other[0, 0, 0, 0] ^= 1  # one pixel differs: a different set
    metrics.cached_features(other, extract, tmp_path)
    assert calls == [5, 5]
    assert not list(tmp_path.glob(".*tmp"))  # atomic: no temp files left behind


def test_cache_reuses_finished_chunks_when_n_grows(tmp_path):
    """Same seed, larger n: the earlier images' chunks come from disk; only new chunks are computed."""
    calls = []

    def extract(x):
        calls.append(len(x))
        return x.double().mean((2, 3))  # a per-image function, to check rows stay in order

    images = torch.randint(0, 256, (7, 3, 8, 8), dtype=torch.uint8)
    first = metrics.cached_rows(images[:5], extract, tmp_path, prefix="j-", chunk=2)  # chunks [0:2] [2:4] [4:5]
    grown = metrics.cached_rows(images, extract, tmp_path, prefix="j-", chunk=2)  # [4:6] and [6:7] are new
    assert calls == [2, 2, 1, 2, 1]
    assert torch.allclose(grown, images.double().mean((2, 3)), atol=1e-4) and torch.equal(grown[:4], first[:4])
    assert len(list(tmp_path.glob("j-*.npy"))) == 5

    def dies_on_the_second_chunk(x):  # a run killed mid-way keeps the chunks it finished
        if len(calls) == 6:
            raise KeyboardInterrupt
        return extract(x)

    more = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    with pytest.raises(KeyboardInterrupt):
        metrics.cached_rows(more, dies_on_the_second_chunk, tmp_path, prefix="j-", chunk=2)
    assert len(list(tmp_path.glob("j-*.npy"))) == 6
    metrics.cached_rows(more, extract, tmp_path, prefix="j-", chunk=2)
    assert calls == [2, 2, 1, 2, 1, 2, 2]


def test_inception_state_dict_mapping_is_strict():
    model = FIDInception()
    state = {name: t for name, t in _pytorch_fid_layout(model).items()}
    model.load_fid_state_dict({**state, "fc.weight": torch.zeros(1008, 2048), "fc.bias": torch.zeros(1008)})
    with pytest.raises(KeyError, match="unexpected key"):
        model.load_fid_state_dict({**state, "Mixed_8a.conv.weight": torch.zeros(1)})
    del state["Mixed_7c.branch_pool.conv.weight"]
    with pytest.raises(RuntimeError, match="Missing key"):
        model.load_fid_state_dict(state)


def _pytorch_fid_layout(model: FIDInception) -> dict:
    return {f"{model.BLOCKS[int(k.split('.')[1])]}.{k.split('.', 2)[2]}": v for k, v in model.state_dict().items()}


def test_near_copies_flags_copied_training_images():
    gen = torch.Generator().manual_seed(0)
    train = torch.randint(0, 256, (300, 3, 64, 64), generator=gen, dtype=torch.uint8)
    threshold = metrics.near_copy_threshold(train, probes=100)
    assert threshold > 0
    fresh = torch.randint(0, 256, (20, 3, 64, 64), generator=gen, dtype=torch.uint8)
    copies = (train[:10].int() + torch.randint(-3, 4, (10, 3, 64, 64), generator=gen)).clamp(0, 255).to(torch.uint8)
    result = metrics.near_copies(torch.cat([copies, fresh]), train, threshold)
    assert result.nearest[:10].tolist() == list(range(10))
    assert (result.distances[:10] < threshold).all()  # every copy is flagged
    # a fresh image is flagged only as often as a real one would be (~1 %): at most 2 of 20 here
    assert (result.distances[10:] < threshold).sum() <= 2 and 10 / 30 <= result.fraction <= 12 / 30


def test_near_copy_threshold_uses_every_training_image_by_default():
    train = torch.randint(0, 256, (120, 3, 16, 16), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    thumbs = metrics.thumbnails(train).double()
    d = torch.cdist(thumbs, thumbs) / thumbs.shape[1] ** 0.5
    d.fill_diagonal_(float("inf"))  # leave-one-out
    exact = torch.quantile(d.min(1).values, metrics.NEAR_COPY_QUANTILE).item()
    assert metrics.near_copy_threshold(train) == pytest.approx(exact, rel=1e-4)
    assert metrics.near_copy_threshold(train, seed=5) == metrics.near_copy_threshold(train)  # no sampling


# ---- real Inception on real CIFAR-10 (skipped on a fresh clone without ../shared) ----------------

@pytest.fixture(scope="module")
def cifar_features(real_cats):
    if not inception_weights_path().is_file() or not CIFAR.is_file():
        pytest.skip("needs ../shared/weights (FID Inception) and ../shared/data/cifar10.zip")
    from catgan.judges.animals import load_cifar
    model, _ = load_inception()
    cats, _ = load_cifar(CIFAR, "test", ("cat",), 2 * N_PER_SET)
    planes, _ = load_cifar(CIFAR, "test", ("airplane",), N_PER_SET)
    feats = inception_features(model, torch.cat([cats, planes]))
    return {"cat_a": feats[:N_PER_SET], "cat_b": feats[N_PER_SET:2 * N_PER_SET], "airplane": feats[2 * N_PER_SET:],
            "model": model, "image": cats[:1]}


@pytest.mark.slow
def test_fid_of_a_set_against_itself_is_zero(cifar_features):
    assert metrics.fid(cifar_features["cat_a"], cifar_features["cat_a"]) == pytest.approx(0, abs=1e-6)


@pytest.mark.slow
def test_fid_orders_cats_closer_to_cats_than_to_airplanes(cifar_features):
    f = cifar_features
    cat_cat, cat_plane = metrics.fid(f["cat_a"], f["cat_b"]), metrics.fid(f["cat_a"], f["airplane"])
    assert 0 < cat_cat < cat_plane, (cat_cat, cat_plane)
    kid_cat, _ = metrics.kid(f["cat_a"], f["cat_b"], subsets=20)
    kid_plane, _ = metrics.kid(f["cat_a"], f["airplane"], subsets=20)
    assert kid_cat < kid_plane


@pytest.mark.slow
def test_inception_resizes_like_pytorch_fid(cifar_features):
    """A 32px uint8 image gives the features of the same image brought to [-1, 1] and resized to 299 as
    pytorch-fid's InceptionV3 does (F.interpolate bilinear, align_corners=False, no antialias), and not
    those of the other common resizes, so the test would notice a change of resize."""
    images = cifar_features["image"]
    x = images.float() / 127.5 - 1

    def resized(mode: str, align_corners: bool):
        return inception_features(cifar_features["model"], torch.nn.functional.interpolate(
            x, size=(299, 299), mode=mode, align_corners=align_corners))

    ours = inception_features(cifar_features["model"], images)
    assert ours.shape == (1, 2048) and torch.allclose(ours, resized("bilinear", False), atol=1e-5)
    assert not torch.allclose(ours, resized("bilinear", True), atol=1e-3)
    assert not torch.allclose(ours, resized("bicubic", False), atol=1e-3)
