import pytest
import torch

from catgan.train import losses
from catgan.train.diffaug import diff_augment, validate_policy


def test_known_values():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    assert losses.d_loss("hinge", real, fake).item() == pytest.approx((0 + 1) / 2 + (0 + 2) / 2)
    assert losses.g_loss("hinge", fake).item() == pytest.approx(0.0)
    # rals: mean(real) = 1, mean(fake) = 0
    expect_d = ((torch.tensor([1.0, -1.0]) ** 2).mean() + (torch.tensor([-1 - 1 + 1, 1 - 1 + 1.0]) ** 2).mean()) / 2
    assert losses.d_loss("rals", real, fake).item() == pytest.approx(expect_d.item())
    bce = losses.d_loss("bce", torch.tensor([0.0]), torch.tensor([0.0]))
    assert bce.item() == pytest.approx(2 * torch.log(torch.tensor(2.0)).item())
    soft = losses.d_loss("bce", torch.tensor([10.0]), torch.tensor([-10.0]), real_label=0.9)
    assert soft.item() > 0.9  # a confident D is penalised under soft labels
    with pytest.raises(ValueError, match="unknown loss"):
        losses.d_loss("wgan", real, fake)


def test_r1_penalty_is_the_mean_squared_input_gradient_and_trains_d_through_it():
    x = torch.randn(4, 3, 2, 2, requires_grad=True)
    w = torch.randn(3, 2, 2, requires_grad=True)
    logits = (x * w).sum(dim=(1, 2, 3)) + (x ** 2).sum(dim=(1, 2, 3))  # d logit_i / d x_i = w + 2 x_i
    expected = (w + 2 * x).detach().square().sum(dim=(1, 2, 3)).mean()
    penalty = losses.r1_penalty(logits, x)
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-5)
    scaled = losses.r1_penalty(logits, x, loss_scale=2.0 ** 16)  # a GradScaler's scale comes back out
    assert scaled.item() == pytest.approx(expected.item(), rel=1e-5)
    penalty.backward()  # the graph reaches D's weights: d/dw mean ||w + 2x||^2 = 2 mean (w + 2x)
    assert torch.allclose(w.grad, 2 * (w + 2 * x).detach().mean(0), atol=1e-5)


def test_label_noise_flips_targets():
    torch.manual_seed(0)
    real, fake = torch.full((10000,), 8.0), torch.full((10000,), -8.0)
    clean = losses.d_loss("bce", real, fake)
    noisy = losses.d_loss("bce", real, fake, label_noise=0.1)
    assert clean.item() < 0.01 and noisy.item() == pytest.approx(2 * 0.1 * 8, rel=0.1)


def test_diffaug_is_differentiable_and_shape_preserving():
    x = (torch.rand(4, 3, 32, 32) * 2 - 1).requires_grad_()
    y = diff_augment(x, "color,translation,cutout")
    assert y.shape == x.shape and not torch.equal(y, x)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # gradients reach the input (G, in training)
    assert torch.equal(diff_augment(x, ""), x)
    with pytest.raises(ValueError, match="unknown DiffAugment"):
        validate_policy("color,rotate")
