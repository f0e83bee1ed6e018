"""FastGAN (catgan/models/fastgan.py): shapes at both sizes, the discriminator's self-supervised
reconstruction loss, GANSpace's early features, the save/load round trip, a short training run in
which D learns to reconstruct, and one through the Trainer that moves G towards the data and exports. Tiny widths, one thread: the whole file runs in seconds."""
import pytest
import torch
import torch.nn.functional as F
from conftest import GingerSquares

from catgan import load_generator
from catgan.models import ARCHITECTURES, ModelConfig, fastgan
from catgan.models.fastgan import FastGANDiscriminator, FastGANGenerator
from catgan.train.config import TrainConfig
from catgan.train.export import export_run
from catgan.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: more threads only add overhead


def test_fastgan_is_registered():
    assert ARCHITECTURES["fastgan"] is fastgan.ARCH and fastgan.ARCH.d_aux_loss


def tiny(size: int, **kw) -> ModelConfig:
    return ModelConfig(arch="fastgan", img_size=size, z_dim=16, g_width=16, d_width=16, **kw)


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("sn", [False, True])
def test_shapes_range_and_aux_loss(size, sn):
    torch.manual_seed(0)
    config = tiny(size, d_spectral_norm=sn, g_dropout=0.5)
    g, d = FastGANGenerator(config), FastGANDiscriminator(config)
    x = g(torch.randn(5, 16))
    assert x.shape == (5, 3, size, size) and x.min() >= -1 and x.max() <= 1
    assert d(x).shape == (5,)
    d.eval()  # fixed BatchNorm statistics: the aux call must give the very same logits
    real = torch.rand(5, 3, size, size).mul(2).sub(1).contiguous(memory_format=torch.channels_last)
    logits, recon = d(real, aux=True)
    assert torch.equal(logits, d(real)) and logits.shape == (5,)
    assert recon.shape == () and torch.isfinite(recon) and recon > 0
    recon.backward()  # the loss reaches both decoders and the shared trunk, not the logit head
    for decoder in (d.decode_full, d.decode_part):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in decoder.parameters())
    assert next(d.stem.parameters()).grad.abs().sum() > 0
    assert all(p.grad is None for p in d.head.parameters())


def test_a_default_64px_pair_is_small():
    config = ModelConfig(arch="fastgan")
    g, d = FastGANGenerator(config), FastGANDiscriminator(config)
    assert sum(p.numel() for p in g.parameters()) < 4_000_000  # fp16 weights well under 20 MB
    assert sum(p.numel() for p in d.parameters()) < 4_000_000


def test_early_features_are_the_init_block():
    g = FastGANGenerator(tiny(64)).eval()
    head, name = g.early_features()
    z = torch.randn(3, 16)
    with torch.no_grad():
        features = head(z)
    assert features.shape == (3, 4 * 16, 4, 4) and name.startswith("init")
    assert {id(p) for p in head.parameters()} <= {id(p) for p in g.parameters()}  # shared, not copied
    with torch.no_grad():
        assert torch.equal(features, g.init(g.latent_input(z)))


@pytest.mark.parametrize("size", [32, 64])
def test_save_load_round_trip(size, tmp_path):
    torch.manual_seed(0)
    config = tiny(size, d_spectral_norm=True)
    for cls in (FastGANGenerator, FastGANDiscriminator):
        model = cls(config).eval()
        model.save_pretrained(tmp_path / cls.__name__, config=config)
        loaded = cls.from_pretrained(tmp_path / cls.__name__)
        assert type(loaded) is cls and loaded.config == config and not loaded.training
        inputs = torch.randn(4, 16) if cls is FastGANGenerator else torch.rand(4, 3, size, size) * 2 - 1
        with torch.no_grad():
            assert torch.equal(model(inputs), loaded(inputs))


def test_d_learns_to_reconstruct_while_training():
    """30 GAN steps on one fixed batch of 8: the decoders' L1 on the real batch goes down."""
    torch.manual_seed(0)
    config = tiny(64)
    g, d = FastGANGenerator(config), FastGANDiscriminator(config)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.999))
    real = torch.rand(8, 3, 8, 8).mul(2).sub(1).repeat_interleave(8, 2).repeat_interleave(8, 3)  # blocky "images"
    recons = []
    for _ in range(30):
        fake = g(torch.randn(8, 16))
        logit_real, recon = d(real, aux=True)
        loss_d = F.softplus(-logit_real).mean() + F.softplus(d(fake.detach())).mean() + recon  # + the aux loss
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        d.requires_grad_(False)
        loss_g = F.softplus(-d(fake)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        d.requires_grad_(True)
        recons.append(recon.item())
    assert all(torch.isfinite(torch.tensor(recons)))
    assert sum(recons[-5:]) / 5 < sum(recons[:5]) / 5


def test_the_trainer_adds_d_s_reconstruction_loss_on_real_images(monkeypatch, tmp_path):
    """Each step: D on the real batch with aux=True (the reconstruction loss joins D's loss), D on
    the fakes without it, and G's step without it."""
    calls, forward = [], FastGANDiscriminator.forward

    def spy(self, x, aux=False):
        calls.append(aux)
        return forward(self, x, aux=aux)

    monkeypatch.setattr(FastGANDiscriminator, "forward", spy)
    images = torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8)
    trainer = Trainer(tiny(32), TrainConfig(out=str(tmp_path / "run"), steps=3, batch_size=8, sample_every=3,
                                           precision="fp32"), images, progress=False)
    trainer.fit()
    assert calls == [True, False, False] * 3


STEPS = 200


def test_a_short_run_moves_g_towards_the_data_and_exports_a_loadable_generator(tmp_path):
    """200 trainer steps on ginger images: G's mean colour closes more than 40 % of its gap to the data's;
    the run exports a weights folder that loads back to the same EMA generator."""
    data = GingerSquares(64, 32)

    torch.manual_seed(0)
    run = tmp_path / "run"
    trainer = Trainer(tiny(32), TrainConfig(out=str(run), steps=STEPS, batch_size=16, lr_g=2e-3, lr_d=2e-3,
                                           loss="hinge", ema_decay=0.5, sample_every=STEPS, ckpt_every=STEPS,
                                           precision="fp32"), data.images, progress=False)
    before = data.colour_gap(trainer.G)
    trainer.fit()
    after = data.colour_gap(trainer.ema.model)
    assert after < 0.6 * before, (before, after)  # measured: 0.325 -> 0.078
    folder = export_run(run, tmp_path / "fastgan-32")
    loaded = load_generator(folder)
    with torch.no_grad():  # equal to rounding: the trainer's copy runs channels_last, the loaded one does not
        torch.testing.assert_close(loaded(data.z[:4]), trainer.ema.model.eval()(data.z[:4]), atol=1e-5, rtol=0)
