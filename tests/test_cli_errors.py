"""Every bad invocation of a command line ends as one clear line on stderr, a non-zero exit, and no
harm: an existing run's checkpoint and metrics.jsonl stay byte-identical. The exit status follows one
rule (catgan.cli): 2 for a wrong command line, found before any work, 1 for a failed run. Plus the
zip bomb, image bombs and models too large to build, and to_flags, the inverse of the flags."""
import argparse
import json
import shlex
import struct
import subprocess
import sys
import zipfile
import zlib
from dataclasses import asdict, fields, replace
from pathlib import Path

import pytest
import torch
from conftest import ROOT, jpeg_bytes, synthetic_faces, write_zip
from PIL import Image

import train
from catgan import cli
from catgan.cli import run
from catgan.data.dataset import load_images
from catgan.eval import evaluate
from catgan.hub import publish
from catgan.hub.card import reproduce_command
from catgan.judges import __main__ as judges_cli
from catgan.judges.train_animals import AnimalTrainConfig
from catgan.judges.train_animals import reproduce_command as judge_command
from catgan.models import ModelConfig
from catgan.train.config import ALIASES, TrainConfig
from catgan.train.trainer import Trainer

TRAIN = train.main
EXPORT = lambda argv: train.main(["export", *argv])  # noqa: E731
JUDGES = judges_cli.main


def forged_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (its one pixel of data is all there is)."""
    buf = bytearray(jpeg_bytes(Image.new("L", (1, 1)), "PNG"))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    buf[16:29] = ihdr
    buf[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(buf)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A small zip of faces, a finished run, and the odd files the bad invocations point at."""
    d = tmp_path_factory.mktemp("cli")
    faces = write_zip(d / "faces.zip", {f"cats/{i}.jpg": jpeg_bytes(im) for i, im in enumerate(synthetic_faces(64, 32))})
    images = load_images(faces, 32, progress=False, cache_dir=d / "cache").images
    run_dir = d / "run"
    Trainer(ModelConfig(img_size=32, g_width=8, d_width=8), TrainConfig(out=str(run_dir), steps=2, batch_size=16,
            log_every=1, sample_every=100), images, progress=False).fit()
    (d / "empty").mkdir()
    (d / "notes.txt").write_text("not a zip")
    write_zip(d / "garbage.zip", {"cats/a.jpg": b"not a jpeg", "cats/b.png": b"\x89PNG broken"})
    for name, blob in {"truncated": (run_dir / "checkpoint.pt").read_bytes()[:1000], "empty-ckpt": b""}.items():
        (d / name).mkdir()
        (d / name / "checkpoint.pt").write_bytes(blob)
    (d / "foreign").mkdir()
    torch.save({"model": {"w": torch.ones(2)}}, d / "foreign" / "checkpoint.pt")
    for side in (40000, 5000):
        (d / f"{side}.png").write_bytes(forged_png(side, side))
    return d


def common(w: Path) -> list[str]:
    return ["--data", str(w / "faces.zip"), "--size", "32", "--g-width", "8", "--d-width", "8", "--batch-size", "16",
            "--steps", "2", "--no-progress", "--cache-dir", str(w / "cache")]


# (command, argv built from the world folder, a phrase the one line must hold)
CASES = [
    (TRAIN, lambda w: ["--data", str(w / "nowhere.zip"), "--out", str(w / "o1"), "--no-progress"], "data source does not exist"),
    (TRAIN, lambda w: ["--data", str(w / "notes.txt"), "--out", str(w / "o2"), "--no-progress"], "not a folder or a .zip"),
    (TRAIN, lambda w: ["--data", str(w / "empty"), "--out", str(w / "o3"), "--no-progress"], "no images"),
    (TRAIN, lambda w: ["--data", str(w / "garbage.zip"), "--out", str(w / "o4"), "--no-progress"], "no readable images"),
    (TRAIN, lambda w: ["--precision", "fp8"], "invalid choice: 'fp8'"),
    (TRAIN, lambda w: ["--diffaug", "rotate"], "rotate"),
    (TRAIN, lambda w: [*common(w), "--limit", "-1", "--out", str(w / "o5")], "--limit must be >= 0"),
    (TRAIN, lambda w: [*common(w), "--steps", "-5", "--out", str(w / "o6")], "--steps must be >= 0"),
    (TRAIN, lambda w: ["--epochs", "0", "--data", "x"], "set --epochs or --steps"),
    (TRAIN, lambda w: ["--batch-size", "0", "--data", "x"], "--batch-size must be >= 1"),
    (TRAIN, lambda w: ["--lr-g", "0", "--data", "x"], "--lr-g and --lr-d must be finite and > 0"),
    (TRAIN, lambda w: ["--lr-d", "nan", "--data", "x"], "--lr-g and --lr-d must be finite and > 0"),
    (TRAIN, lambda w: ["--size", "48"], "invalid choice: 48"),
    (TRAIN, lambda w: ["--arch", "stylegan"], "invalid choice: 'stylegan'"),
    (TRAIN, lambda w: ["--g-dropout", "1.5"], "g_dropout must be in [0, 1)"),
    (TRAIN, lambda w: ["--steps", "abc"], "invalid int value: 'abc'"),
    (TRAIN, lambda w: ["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (TRAIN, lambda w: [*common(w), "--out", str(w / "notes.txt")], "is a file, not a folder"),
    (TRAIN, lambda w: [*common(w), "--out", str(w / "notes.txt" / "run")], "is a file, not a folder"),
    (TRAIN, lambda w: [*common(w), "--out", str(w / "fresh"), "--resume"], "no checkpoint.pt in"),
    (TRAIN, lambda w: [*common(w), "--out", str(w / "truncated"), "--resume"], "is not a readable checkpoint"),
    (TRAIN, lambda w: [*common(w), "--out", str(w / "empty-ckpt"), "--resume"], "is not a readable checkpoint"),
    (TRAIN, lambda w: [*common(w), "--out", str(w / "foreign"), "--resume"], "is not a catgan checkpoint"),
    (TRAIN, lambda w: [*common(w), "--out", str(w / "run")], "already holds a run; continue it with --resume"),
    (TRAIN, lambda w: [*common(w), "--out", str(w / "run"), "--resume", "--overwrite"], "contradict each other"),
    (TRAIN, lambda w: [*common(w), "--out", str(w / "run"), "--resume", "--loss", "hinge"],
     "--loss (checkpoint: 'bce', now: 'hinge')"),
    (TRAIN, lambda w: [*common(w), "--out", str(w / "o7"), "--precision", "fp16", "--device", "cpu"], "fp16 needs CUDA"),
    (TRAIN, lambda w: [*common(w), "--out", str(w / "o8"), "--batch-size", "4096"], "larger than the dataset"),
    (EXPORT, lambda w: [str(w / "no-run"), str(w / "w1")], "no checkpoint at"),
    (EXPORT, lambda w: [str(w / "run"), str(w / "run")], "is not a weights folder; refusing to replace it"),
    (EXPORT, lambda w: [str(w / "truncated"), str(w / "w2")], "is not a readable checkpoint"),
    (EXPORT, lambda w: [str(w / "run"), str(w / "w3"), "--results", str(w / "nope.json")], "results file not found"),
    (EXPORT, lambda w: [str(w / "run"), str(w / "w4"), "--results", str(w / "notes.txt")], "is not JSON"),
    (evaluate.main, lambda w: ["--n", "0"], "--n must be >= 1"),
    (evaluate.main, lambda w: ["--img-size", "48"], "--img-size must be one of"),
    (evaluate.main, lambda w: ["--models", str(w / "no-such-folder")], "weights folder not found"),
    (publish.main, lambda w: [str(w / "run"), "not a repo"], "repo id must look like USER/REPO"),
    (publish.main, lambda w: [str(w / "run" / "generator"), "me/cats"], "offline mode"),
    # the model's size is checked before it is built (unchecked, these would grow past 3 GB or print allocator text)
    (TRAIN, lambda w: [*common(w), "--g-width", "10000000", "--out", str(w / "o9")], "the limit is 200 M"),
    (TRAIN, lambda w: [*common(w), "--z-dim", "1000000000", "--out", str(w / "o10")], "the limit is 200 M"),
    # every number of the judge's training is in range (--epochs -1 would write an untrained judge)
    (JUDGES, lambda w: ["train", "--epochs", "-1", "--run", str(w / "j1"), "--out", str(w / "j1w")],
     "--epochs must be in [1, inf), got -1"),
    (JUDGES, lambda w: ["train", "--lr", "nan", "--run", str(w / "j2"), "--out", str(w / "j2w")], "--lr must be in"),
    (JUDGES, lambda w: ["train", "--pad", "40", "--run", str(w / "j3"), "--out", str(w / "j3w")], "--pad must be in"),
    (JUDGES, lambda w: ["train", "--device", "gpu0", "--run", str(w / "j4"), "--out", str(w / "j4w")],
     "--device must name a torch device"),
    # images go through the one decoder and its one pixel limit (a 40000^2 PNG is one error line, not a traceback)
    (JUDGES, lambda w: ["score", str(w / "40000.png"), "--judge", "resnet-animals"], "decompression bomb"),
    (JUDGES, lambda w: ["score", str(w / "5000.png"), "--judge", "resnet-animals"], "limit is 4096x4096"),
    (JUDGES, lambda w: ["score", str(w / "notes.txt"), "--judge", "resnet-animals"], "not an image catgan reads"),
    # every evaluation argument is checked before any work (not after minutes of real-photo features)
    (evaluate.main, lambda w: ["--models", str(w / "run")], "not a generator's weights folder"),
    (evaluate.main, lambda w: ["--real", str(w / "nowhere.zip"), "--n", "4"], "data source does not exist"),
    (evaluate.main, lambda w: ["--real", str(w / "faces.zip"), "--inception", str(w / "no.pth")], "--inception"),
    (evaluate.main, lambda w: ["--real", str(w / "faces.zip"), "--judges", "nope"], "unknown 'nope'"),
    (evaluate.main, lambda w: ["--real", str(w / "faces.zip"), "--out", str(w / "notes.txt")], "is a file"),
]
# The work itself failed: exit status 1. Every other case is a wrong command line, refused before any work: 2.
FAILED_RUNS = ("no readable images", "is not a readable checkpoint", "is not a catgan checkpoint",
               "--loss (checkpoint: 'bce', now: 'hinge')", "larger than the dataset",
               "is not a weights folder; refusing to replace it", "is not JSON",
               "offline mode")

def snapshot(run_dir: Path) -> dict[str, bytes]:
    return {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("main,argv,phrase", CASES, ids=[f"{i:02d}" for i in range(len(CASES))])
def test_bad_invocations_end_in_one_clear_line_and_harm_nothing(world, main, argv, phrase, capsys):
    before = {d: snapshot(world / d) for d in ("run", "truncated", "empty-ckpt", "foreign")}
    try:
        code = run(main, argv(world))
    except SystemExit as e:  # argparse's usage errors
        code = e.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == (1 if phrase in FAILED_RUNS else 2), err
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert phrase in lines[0], lines[0]
    assert {d: snapshot(world / d) for d in before} == before


def test_rerunning_a_finished_run_without_resume_leaves_it_byte_identical_and_overwrite_keeps_it(world, capsys):
    before = snapshot(world / "run")
    assert run(TRAIN, [*common(world), "--out", str(world / "run")]) == 2  # refused before any work
    assert snapshot(world / "run") == before
    fresh = world / "again"
    assert run(TRAIN, [*common(world), "--out", str(fresh)]) == 0
    first = snapshot(fresh)
    assert run(TRAIN, [*common(world), "--out", str(fresh), "--overwrite"]) == 0
    assert "was moved to" in capsys.readouterr().err
    kept = [p for p in world.iterdir() if p.name.startswith("again.replaced-")]
    assert len(kept) == 1 and snapshot(kept[0]) == first  # the old run is kept, whole
    assert [json.loads(r)["step"] for r in (fresh / "metrics.jsonl").read_text().splitlines()] == [2]  # a new log


class RepeatingDeflate:
    """Deflate for a stream of identical chunks. After a full flush the compressor starts afresh, so
    every chunk after the second compresses to the same bytes: a 4 GB member costs seconds to write."""

    def __init__(self):
        self.c, self.calls, self.cached = zlib.compressobj(9, zlib.DEFLATED, -15), 0, None

    def compress(self, data):
        self.calls += 1
        if self.cached is None:
            out = self.c.compress(data) + self.c.flush(zlib.Z_FULL_FLUSH)
            self.cached = out if self.calls == 2 else None
            return out
        return self.cached

    def flush(self):
        return self.c.flush(zlib.Z_FINISH)


@pytest.mark.slow
def test_a_zip_bomb_is_skipped_within_1_gb(tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.zip"
    with monkeypatch.context() as m:
        m.setattr(zipfile, "_get_compressor", lambda *a, **k: RepeatingDeflate())
        with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z, \
                z.open("cats/bomb.jpg", "w", force_zip64=True) as f:
            chunk = bytes(1 << 24)
            for _ in range(256):  # 4 GiB of zeros
                f.write(chunk)
    assert bomb.stat().st_size < 6_000_000
    # VmHWM: this process's own peak (getrusage's ru_maxrss keeps the forking pytest's peak across exec)
    code = ("import re, sys\nfrom catgan.data.dataset import load_images, DataError\n"
            "try:\n    load_images(sys.argv[1], 32, progress=False, cache_dir=sys.argv[2])\n"
            "except DataError as e:\n    print(e)\n"
            "print(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1))")
    out = subprocess.run([sys.executable, "-c", code, str(bomb), str(tmp_path / "cache")], capture_output=True,
                         text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    message, peak_kb = out.stdout.strip().splitlines()
    assert "1 over the size limits" in message
    assert int(peak_kb) < 1_000_000, f"peak RSS {int(peak_kb) / 1e6:.2f} GB"


def test_an_image_header_claiming_gigapixels_is_skipped_before_decoding(tmp_path):
    import struct
    png = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    png += struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\0" * 1000)
    png += struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    src = write_zip(tmp_path / "big.zip", {"cats/huge.png": png,
                                           "cats/ok.jpg": jpeg_bytes(synthetic_faces(1, 64)[0])})
    s = load_images(src, 32, progress=False, cache_dir=tmp_path / "cache")
    assert len(s) == 1 and s.too_large == ["cats/huge.png"] and "1 file(s) over the size limits" in s.report()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc peak-RSS reset")
def test_an_image_bomb_costs_the_judges_command_no_memory(tmp_path):
    """A 10000x10000 PNG of zeros (100 KB) once took over 3 GB in `score`: the shared decoder refuses it
    from its header, before a judge loads. Measured from after the imports (torch alone is ~0.7 GB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(bytes(10001)) for _ in range(10000)) + comp.flush()
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 10000, 10000, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    assert bomb.stat().st_size < 1_000_000
    code = ("import re, sys\nfrom catgan.judges.__main__ import main\n"
            "kb = lambda key: int(re.search(key + r':\\s+(\\d+) kB', open('/proc/self/status').read()).group(1))\n"
            "open('/proc/self/clear_refs', 'w').write('5')  # VmHWM := VmRSS\n"
            "before = kb('VmRSS')\nstatus = main(['score', sys.argv[1], '--judge', 'resnet-animals'])\n"
            "print(status, kb('VmHWM') - before)")
    out = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, text=True, timeout=300, cwd=ROOT,
                         check=False)
    status, grown_kb = out.stdout.split()
    lines = out.stderr.strip().splitlines()
    assert status == "2" and len(lines) == 1 and lines[0].startswith("error: ") and "bomb.png" in lines[0], out.stderr
    assert int(grown_kb) < 100_000, f"grew {int(grown_kb) / 1e3:.0f} MB"


def test_the_exit_status_rule_is_one_function(capsys):
    def fails(kind):
        def main(argv):
            raise kind("boom")
        return main

    assert run(fails(cli.UsageError), []) == 2 and run(fails(ValueError), []) == 1 and run(fails(OSError), []) == 1
    with pytest.raises(cli.UsageError), cli.argument_checks():  # a check's ValueError/OSError is a usage error
        raise FileNotFoundError("no such thing")
    assert capsys.readouterr().err.count("error: boom") == 3


@pytest.mark.parametrize("cls,changed", [
    (TrainConfig, {"data": "my cats.zip", "lr_g": 1e-4, "flip": False, "diffaug": "color,translation", "steps": 7}),
    (ModelConfig, {"arch": "gan", "img_size": 32, "d_spectral_norm": True, "g_dropout": 0.5}),
    (AnimalTrainConfig, {"epochs": 3, "flip_tta": True, "limit_per_class": 4, "schedule": "onecycle", "ema": 0.99}),
    (evaluate.EvalConfig, {"models": ("w/a b", "w/c"), "judges": ("mobilenet_v2",), "real_limit": 10,
                           "progress": False}),
])
def test_to_flags_is_the_inverse_of_the_generated_flags(cls, changed):
    parser = argparse.ArgumentParser()
    cli.add_dataclass_args(parser, cls, aliases=ALIASES)
    value = replace(cls(), **changed)
    for words in (cli.to_flags(value, cls(), aliases=ALIASES),
                  cli.to_flags(json.loads(json.dumps(asdict(value))), cls())):  # from a config dict (JSON) too
        assert cli.from_args(cls, parser.parse_args(shlex.split(shlex.join(words)))) == value, words
    first = fields(cls)[0].name
    assert cli.to_flags(cls(), cls()) == []  # defaults say nothing...
    assert cli.to_flags(cls(), cls(), always=(first,))[:1] == [f"--{first.replace('_', '-')}"]  # ...unless asked to


def test_cards_reproduce_with_the_shared_inverse():
    line = reproduce_command(ModelConfig(img_size=32, z_dim=64), {**asdict(TrainConfig(data="cats.zip")), "flip": False})
    assert line.startswith("python train.py --arch dcgan --size 32 --z-dim 64 --data cats.zip --out runs/catgan")
    assert line.endswith("--no-flip")
    cfg = asdict(AnimalTrainConfig(epochs=3, resume=True))
    assert judge_command(cfg) == ("python -m catgan.judges train --data ../shared/data/cifar10.zip --out "
                                  "weights/resnet-animals --epochs 3 --run runs/resnet-animals")
