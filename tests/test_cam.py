"""catgan.judges.cam: Grad-CAM maps of the judges look at the cat."""
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from catgan.judges import load_judge
from catgan.judges.cam import explain, grad_cam, judge_map, overlay


@pytest.fixture(scope="module")
def chelsea():
    skimage = pytest.importorskip("skimage")
    return Image.fromarray(skimage.data.chelsea())  # 451 x 300, a tabby's face filling most of the frame


def cat_region(shape) -> np.ndarray:
    """chelsea's cat: eyes, nose, muzzle and forehead, rows 30-290 and columns 80-350 (drawn by eye);
    the background is the rest: the sofa at the left and right edges."""
    mask = np.zeros(shape, bool)
    mask[30:290, 80:350] = True
    return mask


def test_the_imagenet_judges_map_is_on_the_cat(chelsea):
    judge = load_judge("efficientnet_lite0", fallback=False)
    m = judge_map(judge, chelsea)
    assert m.heat.shape == (300, 451) and m.heat.min() >= 0 and m.heat.max() == pytest.approx(1, abs=0.01)
    assert m.label in ("tabby", "tiger cat", "Egyptian cat")
    cat = cat_region(m.heat.shape)
    on_cat, on_background = m.heat[cat].sum(), m.heat[~cat].sum()
    assert on_cat > 3 * on_background, (on_cat, on_background)
    assert on_cat / cat.sum() > 2 * on_background / (~cat).sum()  # denser too, not only a bigger region


def toy(pool: torch.nn.Module) -> tuple[torch.nn.Sequential, torch.Tensor]:
    """(net, x): a net whose class-1 logit is the brightness of the input, pooled by ``pool``, and an
    8x8 input bright in its top-left quarter only: class 1's map lies there."""
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1), torch.nn.ReLU(), pool)
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].bias.zero_()
        net[0].weight[1] = 1.0
    x = torch.zeros(1, 3, 8, 8)
    x[..., :4, :4] = 1.0
    return net, x


def test_maps_follow_the_evidence():
    net, x = toy(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()))
    cam, _, index = grad_cam(net, x, class_index=1)
    assert index == 1 and cam[:4, :4].min() > 0.9 and cam[4:, 4:].max() < 0.1


def test_overlay_keeps_the_size(chelsea):
    heat = np.zeros((300, 451), np.float32)
    heat[100:200, 100:200] = 1
    out = overlay(chelsea, heat)
    assert out.size == chelsea.size and out.mode == "RGB"
    assert np.asarray(out)[150, 150, 0] > np.asarray(out)[10, 10, 0]  # hot is red


def test_one_pass_gives_the_verdict_of_score_and_the_map(chelsea):
    judge = load_judge("efficientnet_lite0", fallback=False)
    verdict, m = explain(judge, chelsea)
    (scored,) = judge.score([chelsea])
    assert [label for label, _ in verdict.top5] == [label for label, _ in scored.top5]
    assert verdict.p_cat == pytest.approx(scored.p_cat, abs=1e-4) and verdict.is_cat == scored.is_cat
    assert m.label == verdict.top5[0][0] and m.prob == pytest.approx(verdict.top5[0][1], abs=1e-6)


def test_a_map_ignores_other_threads_using_the_same_model():
    """The app shares one judge among all visitors: while one thread draws a map, another's forward
    pass through the same modules must not reach the map's feature maps. The toy net below pauses
    after its last feature map until another thread has run a whole forward pass through it."""
    main, hold, done = threading.current_thread(), threading.Event(), threading.Event()

    class PoolAfterOthers(torch.nn.Module):
        def forward(self, x):
            if threading.current_thread() is main:
                hold.set()
                assert done.wait(10)
            return x.mean((2, 3))

    net, x = toy(PoolAfterOthers())

    def other():
        hold.wait(10)
        with torch.inference_mode():
            net(torch.rand(4, 3, 8, 8))
        done.set()

    t = threading.Thread(target=other)
    t.start()
    try:
        cam, _, index = grad_cam(net, x, class_index=1)
    finally:
        done.set()
        t.join()
    assert index == 1 and cam[:4, :4].min() > 0.9 and cam[4:, 4:].max() < 0.1
