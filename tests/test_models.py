import json

import numpy as np
import pytest
import torch
from conftest import assert_fp16_file_loads_exactly
from safetensors.torch import save_file

from catgan import load_generator, sample
from catgan.models import ARCHITECTURES, ModelConfig, build_discriminator, build_generator

CASES = [(a, s) for a in ARCHITECTURES for s in ARCHITECTURES[a].sizes]


def tiny(arch: str, size: int, **kw) -> ModelConfig:
    return ModelConfig(arch=arch, img_size=size, z_dim=16, g_width=8, d_width=8, **kw)


@pytest.mark.parametrize("arch,size", CASES)
def test_shapes_range_and_logits(arch, size):
    g, d = build_generator(tiny(arch, size)), build_discriminator(tiny(arch, size))
    x = g(torch.randn(5, 16))
    assert x.shape == (5, 3, size, size) and x.min() >= -1 and x.max() <= 1
    logits = d(x)
    assert logits.shape[0] == 5 and logits.dim() <= 2  # one logit per image, or a row of patch logits
    assert isinstance(list(d.modules())[-1], (torch.nn.Linear, torch.nn.Conv2d))  # raw logits: no Sigmoid
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in d.modules())


@pytest.mark.parametrize("arch,size", CASES)
def test_seeded_determinism(arch, size):
    torch.manual_seed(1)
    g1 = build_generator(tiny(arch, size, g_dropout=0.5))
    torch.manual_seed(1)
    g2 = build_generator(tiny(arch, size, g_dropout=0.5))
    a, b, c = (np.stack([np.asarray(im) for im in sample(g, 3, seed=s)]) for g, s in ((g1, 7), (g2, 7), (g2, 8)))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("arch,size", CASES)
def test_save_load_round_trip(arch, size, tmp_path):
    g = build_generator(tiny(arch, size, d_spectral_norm=True)).eval()
    g.save_pretrained(tmp_path / "w", config=g.config)
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert json.loads((tmp_path / "w" / "config.json").read_text())["arch"] == arch
    loaded = load_generator(tmp_path / "w")
    assert type(loaded) is type(g) and loaded.config == g.config and not loaded.training
    z = torch.randn(4, 16)
    with torch.no_grad():
        assert torch.equal(g(z), loaded(z))


def test_fp16_weights_load_as_fp32(tmp_path):
    g = build_generator(tiny("dcgan", 32)).eval()
    g.half().save_pretrained(tmp_path / "w", config=g.config)
    loaded = load_generator(tmp_path / "w")
    assert_fp16_file_loads_exactly(loaded, tmp_path / "w" / "model.safetensors")  # F16 on disk, exact in fp32
    z = torch.randn(2, 16)
    with torch.no_grad():  # the same fp16-rounded weights, run in fp32 on both sides
        assert torch.equal(loaded(z), g.float()(z))


def test_mismatched_or_tampered_files_fail_clearly(tmp_path):
    small, big = build_generator(tiny("dcgan", 32)), build_generator(tiny("dcgan", 64))
    small.save_pretrained(tmp_path / "w", config=small.config)
    big.save_pretrained(tmp_path / "other", config=big.config)
    # weights of a 64px model under a 32px config: strict load refuses, naming the problem
    (tmp_path / "w" / "model.safetensors").write_bytes((tmp_path / "other" / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="does not match DCGANGenerator.*unexpected"):
        load_generator(tmp_path / "w")
    # a missing tensor
    state = {k: v for k, v in small.state_dict().items() if not k.endswith("running_var")}
    save_file(state, tmp_path / "w" / "model.safetensors")
    with pytest.raises(ValueError, match="missing"):
        load_generator(tmp_path / "w")
    # truncated file
    small.save_pretrained(tmp_path / "w", config=small.config)
    blob = (tmp_path / "w" / "model.safetensors").read_bytes()
    (tmp_path / "w" / "model.safetensors").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="not a readable safetensors"):
        load_generator(tmp_path / "w")
    # a config that is not ours
    (tmp_path / "w" / "config.json").write_text(json.dumps({"arch": "dcgan", "hidden_size": 3}))
    with pytest.raises(ValueError, match="unknown keys"):
        load_generator(tmp_path / "w")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_generator(tmp_path / "missing")


def test_config_validation():
    with pytest.raises(ValueError, match="img_size"):
        ModelConfig(img_size=48)
    with pytest.raises(ValueError, match="arch"):
        ModelConfig(arch="stylegan")
