import json
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from conftest import assert_fp16_file_loads_exactly
from PIL import Image

from catgan import load_generator
from catgan.cli import run as guarded
from catgan.data.dataset import load_images
from catgan.models import ModelConfig
from catgan.train import __main__ as train_cli
from catgan.train import losses
from catgan.train.checkpoint import load_checkpoint
from catgan.train.config import TrainConfig
from catgan.train.export import export_run
from catgan.train.trainer import NonFiniteLossError, Trainer

ROOT = Path(__file__).resolve().parents[1]
METRIC_KEYS = {"step", "epoch", "loss_d", "loss_g", "d_real", "d_fake", "images_per_s", "cpu_s"}


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def rows(run: Path) -> list[dict]:
    return [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]


def past_checkpoint(run: Path) -> bool:
    """A checkpoint at step >= 4 exists and metrics were logged after it."""
    try:
        logged = rows(run)
        return bool(logged) and 4 <= load_checkpoint(run)["step"] < logged[-1]["step"]
    except (FileNotFoundError, ValueError):  # nothing yet, or a line being written
        return False


def test_two_epochs_on_512_real_faces(cats_zip, tmp_path):
    run = tmp_path / "run"
    res = run_cli("--data", str(cats_zip), "--limit", "512", "--arch", "dcgan", "--size", "64", "--epochs", "2",
                  "--g-width", "8", "--d-width", "8",  # the whole pipeline, at a width that takes seconds
                  "--batch-size", "64", "--out", str(run), "--log-every", "2", "--sample-every", "4", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "512 images at 64px" in res.stderr
    log = rows(run)
    assert METRIC_KEYS <= set(log[0]) and log[-1]["step"] == 16 and log[-1]["epoch"] == 2.0
    assert all(r["images_per_s"] > 0 for r in log)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 16 and summary["images_seen"] == 16 * 64
    cpu = [r["cpu_s"] for r in log]  # the run's CPU time so far, as the checkpoint and the summary count it
    assert 0 < cpu[0] and cpu == sorted(cpu) and cpu[-1] <= summary["cpu_time_s"]
    assert {"wall_time_s", "mean_images_per_s", "device", "precision"} <= set(summary)
    grids = sorted((run / "samples").glob("step_*.png"))
    assert [g.name for g in grids] == [f"step_{s:07d}.png" for s in (4, 8, 12, 16)]
    gif = Image.open(run / "evolution.gif")
    grid = Image.open(grids[0])
    assert gif.n_frames == 4 and gif.size == (grid.width, round(grid.height / 2))  # the grid's top half
    state = load_checkpoint(run)
    assert state["step"] == 16 and {"G", "D", "ema", "opt_g", "opt_d", "scaler_g", "scaler_d", "rng"} <= set(state)
    g = load_generator(run / "generator")
    assert g.config == ModelConfig(arch="dcgan", img_size=64, g_width=8, d_width=8)
    assert (run / "generator" / "samples.png").exists() and (run / "generator" / "README.md").exists()


@pytest.mark.slow
def test_kill_and_resume_logs_the_same_losses(cats_zip, tmp_path):
    common = ["--data", str(cats_zip), "--limit", "256", "--size", "32", "--g-width", "8", "--d-width", "8",
              "--batch-size", "32", "--log-every", "1", "--ckpt-every", "4", "--sample-every", "1000", "--no-progress"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *common, "--steps", "100000", "--out", str(killed)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:  # freeze it once it has logged steps beyond its last checkpoint, then kill it hard
        while time.time() < deadline:
            proc.send_signal(signal.SIGSTOP)
            if past_checkpoint(killed):
                break
            proc.send_signal(signal.SIGCONT)
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = load_checkpoint(killed)
    step = before["step"]
    assert step >= 4 and rows(killed)[-1]["step"] > step  # it really died mid-way
    total = step + 6
    resumed = run_cli(*common, "--steps", str(total), "--out", str(killed), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from step {step}" in resumed.stderr
    summary = json.loads((killed / "summary.json").read_text())  # wall and CPU time add up over both processes
    assert summary["wall_time_s"] > summary["process_wall_time_s"] and before["train_time_s"] > 0
    assert before["cpu_time_s"] > 0 and summary["cpu_time_s"] > before["cpu_time_s"]
    straight = run_cli(*common, "--steps", str(total), "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr
    keys = ("step", "loss_d", "loss_g", "d_real", "d_fake")
    a = [tuple(r[k] for k in keys) for r in rows(killed)]
    b = [tuple(r[k] for k in keys) for r in rows(tmp_path / "straight")]
    assert len(a) == total and a == b


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(cats_zip, tmp_path, monkeypatch):
    images = load_images(cats_zip, 32, limit=128, progress=False).images
    cfg = TrainConfig(out=str(tmp_path / "run"), steps=20, batch_size=16, log_every=1, ckpt_every=3, sample_every=100)
    trainer = Trainer(ModelConfig(img_size=32, g_width=8, d_width=8), cfg, images, progress=False)
    real_d_loss, calls = losses.d_loss, {"n": 0}

    def exploding(*a, **kw):
        calls["n"] += 1
        out = real_d_loss(*a, **kw)
        return out * float("nan") if calls["n"] == 5 else out

    monkeypatch.setattr(losses, "d_loss", exploding)
    with pytest.raises(NonFiniteLossError, match="non-finite at step 5.*keeps the last good state"):
        trainer.fit()
    state = load_checkpoint(tmp_path / "run")
    assert state["step"] == 3
    assert all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())


def test_cli_errors_and_dry_run(tmp_path, capsys):
    assert train_cli.train_main(["--dry-run", "--arch", "gan", "--size", "32", "--loss", "hinge"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["model"]["arch"] == "gan" and cfg["model"]["img_size"] == 32 and cfg["train"]["loss"] == "hinge"
    # exit 2: the command line is wrong (catgan.cli's rule), found before any work
    assert guarded(train_cli.train_main, ["--data", str(tmp_path / "nowhere.zip"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: data source does not exist: {tmp_path / 'nowhere.zip'}"]
    with pytest.raises(SystemExit) as argparse_exit:
        train_cli.train_main(["--precision", "fp8"])
    assert argparse_exit.value.code == 2
    capsys.readouterr()
    assert guarded(train_cli.train_main, ["--diffaug", "rotate"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown DiffAugment op(s) ['rotate']")
    assert guarded(train_cli.train_main, ["--data", str(tmp_path), "--device", "cpu", "--precision", "fp16",
                                 "--out", str(tmp_path / "r")]) == 2


def test_export_cli_fp16(cats_zip, tmp_path):
    images = load_images(cats_zip, 32, limit=64, progress=False).images
    run = tmp_path / "run"
    Trainer(ModelConfig(img_size=32), TrainConfig(out=str(run), steps=2, batch_size=16), images, progress=False).fit()
    assert train_cli.export_main([str(run), str(tmp_path / "w32"), "--fp16"]) == 0
    assert train_cli.export_main([str(run), str(tmp_path / "w32full")]) == 0
    half, full = (tmp_path / d / "model.safetensors" for d in ("w32", "w32full"))
    assert half.stat().st_size < 0.6 * full.stat().st_size
    assert_fp16_file_loads_exactly(load_generator(tmp_path / "w32"), half)  # F16 on disk, exact in fp32
    assert "python train.py --arch dcgan --size 32" in (tmp_path / "w32" / "README.md").read_text()
    assert guarded(train_cli.export_main, [str(tmp_path / "empty"), str(tmp_path / "x")]) == 2  # no checkpoint there
    assert not (tmp_path / "x").exists()
    # re-export with evaluate's figures: the card carries them; no row for the folder is an error
    table = {"protocol": {"n": 500}, "rows": [{"name": "w32", "source": str(tmp_path / "w32"), "n": 500,
                                                "fid": 42.125, "kid": 0.031, "kid_std": 0.002, "judges": {}}]}
    (tmp_path / "t.json").write_text(json.dumps(table))
    assert train_cli.export_main([str(run), str(tmp_path / "w32"), "--fp16", "--results", str(tmp_path / "t.json")]) == 0
    assert "42.1" in (tmp_path / "w32" / "README.md").read_text()
    assert guarded(train_cli.export_main, [str(run), str(tmp_path / "w9"), "--results", str(tmp_path / "t.json")]) == 1
    assert not (tmp_path / "w9").exists()


def test_export_with_standing_statistics_keeps_the_weights_and_recomputes_batchnorm(cats_zip, tmp_path, capsys):
    images = load_images(cats_zip, 32, limit=64, progress=False).images
    run = tmp_path / "run"
    Trainer(ModelConfig(img_size=32, g_dropout=0.5), TrainConfig(out=str(run), steps=2, batch_size=16), images,
            progress=False).fit()
    assert train_cli.export_main([str(run), str(tmp_path / "plain")]) == 0
    assert train_cli.export_main([str(run), str(tmp_path / "standing"), "--standing-stats", "3"]) == 0
    plain, standing = (load_generator(tmp_path / d).state_dict() for d in ("plain", "standing"))
    stats = [k for k in plain if k.endswith(("running_mean", "running_var"))]
    assert stats and all(torch.equal(plain[k], standing[k]) for k in plain if k not in stats and "num_batches" not in k)
    assert all(not torch.allclose(plain[k], standing[k]) for k in stats)
    card = (tmp_path / "standing" / "README.md").read_text()
    assert "recomputed for these weights at release" in card and "over 3 batches of 64 latents" in card
    assert "recomputed" not in (tmp_path / "plain" / "README.md").read_text()
    assert guarded(train_cli.export_main, [str(run), str(tmp_path / "x"), "--standing-stats", "-1"]) == 2
    assert "--standing-stats must be 0 or more" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_resume_refuses_changed_training_settings(cats_zip, tmp_path):
    images = load_images(cats_zip, 32, limit=64, progress=False).images
    run = tmp_path / "run"
    Trainer(ModelConfig(img_size=32), TrainConfig(out=str(run), steps=2, batch_size=16, real_label=0.9), images,
            progress=False).fit()
    forgot = Trainer(ModelConfig(img_size=32), TrainConfig(out=str(run), steps=4, batch_size=16), images, progress=False)
    with pytest.raises(ValueError, match=r"--real-label \(checkpoint: 0.9, now: 1.0\)"):
        forgot.resume()
    longer = Trainer(ModelConfig(img_size=32), TrainConfig(out=str(run), steps=4, batch_size=16, real_label=0.9,
                                                           ckpt_every=2, log_every=1), images, progress=False)
    longer.resume()  # a longer run, logged more often: fine
    assert longer.step == 2


def test_export_of_a_stopped_run_describes_its_checkpoint_not_an_old_summary(cats_zip, tmp_path):
    images = load_images(cats_zip, 32, limit=64, progress=False).images
    run = tmp_path / "run"
    Trainer(ModelConfig(img_size=32), TrainConfig(out=str(run), steps=2, batch_size=16), images, progress=False).fit()
    trainer = Trainer(ModelConfig(img_size=32), TrainConfig(out=str(run), steps=6, batch_size=16, ckpt_every=2),
                      images, progress=False)
    trainer.resume()
    trainer.step = 4  # as if it had been killed after its step-4 checkpoint
    trainer.save()
    assert train_cli.export_main([str(run), str(tmp_path / "w")]) == 0
    card = (tmp_path / "w" / "README.md").read_text()
    assert "| 4 |" in card and "| 2 |" not in card  # steps from the checkpoint, not summary.json's 2


def test_the_cuda_paths_that_can_be_checked_on_cpu(cats_zip, tmp_path, monkeypatch):
    """Device placement per rank, --precision auto, and fp16's grad-scaler state surviving a
    checkpoint (here with CPU scalers standing in for CUDA ones: the same state_dict/load_state_dict path)."""
    from catgan.train.devices import resolve_device, resolve_precision

    with monkeypatch.context() as m:
        m.setattr(torch.cuda, "is_available", lambda: True)
        assert resolve_device("cuda", local_rank=1) == torch.device("cuda", 1)
        assert resolve_device("auto", local_rank=2) == torch.device("cuda", 2)
        m.setattr(torch.cuda, "is_available", lambda: False)
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match="no CUDA GPU is visible"):
            resolve_device("cuda")
    cpu, gpu = torch.device("cpu"), torch.device("cuda", 0)
    for native in (True, False):  # auto: bf16 only where the hardware does bf16
        with monkeypatch.context() as m:
            m.setattr(torch.cuda, "is_bf16_supported", lambda: native)
            m.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_bf16": native, "amx_bf16": False})
            assert resolve_precision("auto", cpu) == resolve_precision("auto", gpu) == ("bf16" if native else "fp32")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                assert resolve_precision("bf16", cpu) == "bf16"  # asked for: kept, with a warning if emulated
            assert any("emulated" in str(w.message) for w in caught) != native
    assert resolve_precision("fp16", gpu) == "fp16" and resolve_precision("fp32", cpu) == "fp32"
    with pytest.raises(ValueError, match="fp16 needs CUDA"):
        resolve_precision("fp16", cpu)
    images = load_images(cats_zip, 32, limit=64, progress=False).images
    cfg = TrainConfig(out=str(tmp_path / "run"), steps=2, batch_size=16, precision="fp32")
    model = ModelConfig(img_size=32, g_width=8, d_width=8)
    first = Trainer(model, cfg, images, progress=False)
    first.scaler_g, first.scaler_d = torch.amp.GradScaler("cpu", init_scale=1024.0), torch.amp.GradScaler("cpu")
    first.fit()
    saved = load_checkpoint(tmp_path / "run")
    assert saved["scaler_g"]["scale"] == first.scaler_g.get_scale() and saved["scaler_d"]["scale"] > 0
    again = Trainer(model, TrainConfig(out=str(tmp_path / "run"), steps=4, batch_size=16, precision="fp32"), images,
                    progress=False)
    again.scaler_g, again.scaler_d = torch.amp.GradScaler("cpu"), torch.amp.GradScaler("cpu")
    again.resume()
    assert again.scaler_g.get_scale() == first.scaler_g.get_scale() != torch.amp.GradScaler("cpu").get_scale()


# ---- the train step's options, on tiny synthetic data: what each network really saw and did ----

def numbered_images(n: int, size: int = 32) -> torch.Tensor:
    """n uniform uint8 images whose pixels hold their own index (read back by ``image_ids``)."""
    return torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, size, size).contiguous()


def image_ids(x: torch.Tensor) -> list[int]:
    return ((x[:, 0, 0, 0] + 1) * 127.5).round().long().tolist()


def tiny_trainer(tmp_path, images: torch.Tensor, **kw) -> Trainer:
    cfg = TrainConfig(out=str(tmp_path / "run"), batch_size=8, device="cpu", precision="fp32", grid_size=4,
                      sample_every=1000, ckpt_every=1000, **kw)
    return Trainer(ModelConfig(img_size=32, z_dim=16, g_width=8, d_width=8), cfg, images, progress=False)


def adam_steps(opt: torch.optim.Optimizer) -> set[int]:
    return {int(s["step"]) for s in opt.state.values()}


def spy_on_real_batches(trainer: Trainer) -> list[torch.Tensor]:
    served, get = [], trainer.batches.get

    def spy(index):
        served.append(get(index))
        return served[-1]

    trainer.batches.get = spy
    return served


def test_d_steps_and_g_steps_update_each_network_that_often_on_fresh_batches(tmp_path):
    trainer = tiny_trainer(tmp_path, numbered_images(48), epochs=1, d_steps=3, g_steps=2)
    assert trainer.total_steps == 2  # one epoch = 6 batches = 2 steps of 3 D updates each
    served = spy_on_real_batches(trainer)
    g_calls = []
    trainer.G.register_forward_hook(lambda m, args, out: g_calls.append(len(out)))
    summary = trainer.fit()
    assert adam_steps(trainer.opt_d) == {2 * 3} and adam_steps(trainer.opt_g) == {2 * 2}
    seen = sorted(i for x in served for i in image_ids(x))
    assert len(served) == 6 and seen == list(range(48))  # six fresh batches: the epoch, each image once
    assert len(g_calls) == 2 * (3 + 1)  # a fake batch per D update, and a fresh one for the 2nd G update
    assert summary["images_seen"] == 48 and summary["epochs"] == 1.0


def record_learning_rates(trainer: Trainer) -> list[tuple[float, float]]:
    """The (G, D) learning rates each step of ``trainer`` ran at."""
    seen, step = [], trainer.train_step

    def spy():
        out = step()
        seen.append((trainer.opt_g.param_groups[0]["lr"], trainer.opt_d.param_groups[0]["lr"]))
        return out

    trainer.train_step = spy
    return seen


def test_lr_decay_lowers_both_rates_linearly_over_the_last_steps_and_a_resume_keeps_the_schedule(tmp_path):
    kw = {"steps": 6, "lr_decay": 4, "lr_g": 1e-3, "lr_d": 3e-3}
    whole = tiny_trainer(tmp_path / "whole", numbered_images(48), **kw)
    rates = record_learning_rates(whole)
    whole.fit()
    scales = [1, 1, 1, 0.75, 0.5, 0.25]  # the last 4 of 6 steps fall linearly, to 1/4 at the last
    assert sum(rates, ()) == pytest.approx(sum([(1e-3 * s, 3e-3 * s) for s in scales], ()))
    first = tiny_trainer(tmp_path / "first", numbered_images(48), **kw)
    for _ in range(4):  # four steps, then a new process resumes from their state
        first.train_step()
        first.step += 1
    resumed = tiny_trainer(tmp_path / "resumed", numbered_images(48), **kw)
    resumed.load_state_dict(first.state_dict())
    later = record_learning_rates(resumed)
    resumed.fit()
    assert later == rates[4:]
    constant = tiny_trainer(tmp_path / "constant", numbered_images(48), steps=3, lr_g=1e-3, lr_d=3e-3)
    unchanged = record_learning_rates(constant)
    constant.fit()
    assert unchanged == [(1e-3, 3e-3)] * 3
    with pytest.raises(ValueError, match="--lr-decay must be >= 0"):
        TrainConfig(steps=3, lr_decay=-1)


def test_rals_compares_with_the_real_batch_in_both_losses(tmp_path, monkeypatch):
    trainer = tiny_trainer(tmp_path, torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8), steps=1,
                           loss="rals")
    served = spy_on_real_batches(trainer)
    calls = []

    def recorded(name):
        loss = getattr(losses, name)

        def call(kind, *logits, **kw):
            calls.append((name, kind, logits))
            return loss(kind, *logits, **kw)
        return call

    for name in ("d_loss", "g_loss"):
        monkeypatch.setattr(losses, name, recorded(name))
    stats = trainer.train_step()
    assert [(n, kind) for n, kind, _ in calls] == [("d_loss", "rals"), ("g_loss", "rals")]
    fake_logits, real_logits = calls[1][2]
    with torch.no_grad():  # G's loss saw D's (already updated) logits on this step's real batch
        assert torch.allclose(real_logits, trainer.D(served[-1]), atol=1e-5)
    expected = ((fake_logits - real_logits.mean() - 1) ** 2).mean() / 2 + \
        ((real_logits - fake_logits.mean() + 1) ** 2).mean() / 2
    assert torch.isclose(stats[1], expected.detach()) and torch.isfinite(stats).all()


def test_r1_penalises_d_at_the_last_real_batch_of_every_r1_every_th_step(tmp_path, monkeypatch):
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    plain = tiny_trainer(tmp_path / "plain", images, steps=4, d_steps=2)
    plain_stats = plain.train_step()
    calls, penalty = [], losses.r1_penalty

    def spy(logits, inputs, loss_scale=1.0):
        calls.append((trainer.step, inputs.detach().clone(), loss_scale))
        return penalty(logits, inputs, loss_scale)

    monkeypatch.setattr(losses, "r1_penalty", spy)
    trainer = tiny_trainer(tmp_path / "r1", images, steps=4, d_steps=2, r1=10.0, r1_every=2)
    served = spy_on_real_batches(trainer)
    stats = trainer.train_step()
    # the same D, batches and noise as the plain run: the logged (adversarial) losses agree, D's new weights don't
    assert torch.allclose(stats[0], plain_stats[0])
    assert not all(torch.equal(a, b) for a, b in zip(trainer.D.parameters(), plain.D.parameters(), strict=True))
    trainer.step += 1
    trainer.fit()
    assert [step for step, _, _ in calls] == [0, 2]  # steps 0 and 2 of 4, each on its last D update
    assert torch.equal(calls[0][1], served[1]) and torch.equal(calls[1][1], served[5])
    assert {scale for _, _, scale in calls} == {1.0}  # no GradScaler in fp32
    for bad, message in (({"r1": -1.0}, "--r1 must be"), ({"r1": float("nan")}, "--r1 must be"),
                         ({"r1_every": 0}, "--r1-every must be >= 1")):
        with pytest.raises(ValueError, match=message):
            TrainConfig(steps=3, **bad)


@pytest.mark.parametrize("policy", ["", "cutout"])
def test_diffaug_augments_every_input_of_d_and_only_with_a_policy(tmp_path, policy):
    trainer = tiny_trainer(tmp_path, torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8), steps=2,
                           diffaug=policy, d_steps=2)
    served = spy_on_real_batches(trainer)
    d_inputs = []
    trainer.D.register_forward_pre_hook(lambda m, args: d_inputs.append(args[0].detach().clone()))
    trainer.train_step()
    assert len(d_inputs) == 2 * 2 + 1  # (real, fake) per D update, then fake for G
    real_in = [d_inputs[0], d_inputs[2]]  # what D was shown for the two real batches
    # cutout zeroes at least an 8x8 square of each image; real pixels in [-1, 1] are never exactly 0
    zeros = torch.stack([(x == 0).all(1).flatten(1).sum(1) for x in d_inputs])  # (calls, batch) zeroed pixels
    if policy:
        assert (zeros >= 64).all() and not any(torch.equal(a, b) for a, b in zip(real_in, served, strict=True))
    else:
        assert (zeros == 0).all() and all(torch.equal(a, b) for a, b in zip(real_in, served, strict=True))


def test_a_warm_start_takes_another_run_s_networks_and_nothing_else(tmp_path):
    first = tiny_trainer(tmp_path / "a", numbered_images(16), steps=3)
    first.fit()
    second = tiny_trainer(tmp_path / "b", numbered_images(16), steps=2, diffaug="color,translation",
                          init_from=str(tmp_path / "a" / "run"))
    assert second.warm_start(second.cfg.init_from).endswith("(its step 3)")
    for mine, theirs in ((second.G, first.G), (second.D, first.D), (second.ema.model, first.ema.model)):
        assert all(torch.equal(v, theirs.state_dict()[k]) for k, v in mine.state_dict().items())
    assert second.step == 0 and not second.opt_g.state and not second.opt_d.state  # its own optimisers, from 0
    assert second.fit()["steps"] == 2
    resumed = Trainer(first.model_cfg, second.cfg, numbered_images(16), progress=False)
    resumed.resume()  # the checkpoint remembers what the networks had cost before the warm start
    assert resumed.warm_started == {"step": 3, "cpu_time_s": load_checkpoint(tmp_path / "a" / "run")["cpu_time_s"]}
    other = ModelConfig(img_size=32, z_dim=16, g_width=16, d_width=8)
    with pytest.raises(ValueError, match="--init-from .* holds a .* model, not"):
        Trainer(other, second.cfg, numbered_images(16), progress=False).warm_start(second.cfg.init_from)


def test_a_warm_start_from_a_released_generator_takes_g_and_trains_a_fresh_d_alone_first(tmp_path):
    first = tiny_trainer(tmp_path / "a", numbered_images(16), steps=3)
    first.fit()
    released = export_run(tmp_path / "a" / "run", tmp_path / "dcgan-32-released")
    second = tiny_trainer(tmp_path / "b", numbered_images(16), steps=4, d_warmup=2, init_from=str(released))
    fresh_d = {k: v.clone() for k, v in second.D.state_dict().items()}
    assert second.warm_start(released) == f"the generator of {released} (D starts fresh)"
    for net in (second.G, second.ema.model):  # G and EMA G: the released (EMA) weights
        assert all(torch.equal(v, first.ema.model.state_dict()[k]) for k, v in net.state_dict().items())
    assert all(torch.equal(v, fresh_d[k]) for k, v in second.D.state_dict().items())  # D: not the first run's
    g_params = [p.clone() for p in second.G.parameters()]
    g_buffers = {k: v.clone() for k, v in second.G.named_buffers()}
    for _ in range(2):  # the warm-up: D learns, G and EMA G are held
        second.train_step()
        second.step += 1
    assert adam_steps(second.opt_d) == {2} and not second.opt_g.state
    assert all(torch.equal(a, b) for a, b in zip(g_params, second.G.parameters(), strict=True))
    assert g_buffers and all(torch.equal(v, g_buffers[k]) for k, v in second.G.named_buffers())  # BatchNorm too
    assert second.G.training and all(m.momentum == 0.1 for m in second.G.modules()
                                     if isinstance(m, torch.nn.BatchNorm2d))
    assert all(torch.equal(a, b) for a, b in zip(g_params, second.ema.model.parameters(), strict=True))
    ema_before = [p.clone() for p in second.ema.model.parameters()]
    second.train_step()  # then both; the EMA, trained weights already, moves at its full decay at once
    mean = next(k for k in g_buffers if k.endswith("running_mean"))
    assert not torch.equal(second.G.state_dict()[mean], g_buffers[mean])  # G's statistics move again
    assert adam_steps(second.opt_d) == {3} and adam_steps(second.opt_g) == {1}
    for before, g, e in zip(ema_before, second.G.parameters(), second.ema.model.parameters(), strict=True):
        torch.testing.assert_close(e, before.lerp(g, 1 - second.cfg.ema_decay))
    assert second.warm_started == {"generator": str(released)}
    other = ModelConfig(img_size=32, z_dim=16, g_width=16, d_width=8)
    with pytest.raises(ValueError, match="--init-from .* holds a .* model, not"):
        Trainer(other, second.cfg, numbered_images(16), progress=False).warm_start(released)
    with pytest.raises(ValueError, match="--d-warmup must be >= 0"):
        TrainConfig(d_warmup=-1)
