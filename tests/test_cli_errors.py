"""Every bad invocation of a command line ends as one clear line on stderr, a non-zero exit, and no
harm: an existing run's checkpoint and metrics.jsonl stay byte-identical. Plus the zip bomb."""
import json
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest
import torch
from conftest import ROOT, jpeg_bytes, synthetic_faces, write_zip

import train
from catgan.cli import run
from catgan.data.dataset import load_images
from catgan.eval import evaluate
from catgan.hub import publish
from catgan.models import ModelConfig
from catgan.train.config import TrainConfig
from catgan.train.trainer import Trainer

TRAIN = train.main
EXPORT = lambda argv: train.main(["export", *argv])  # noqa: E731


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
    (TRAIN, lambda w: ["--lr-g", "0", "--data", "x"], "--lr-g and --lr-d must be > 0"),
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
]

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
    assert code not in (0, None), err
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert phrase in lines[0], lines[0]
    assert {d: snapshot(world / d) for d in before} == before


def test_rerunning_a_finished_run_without_resume_leaves_it_byte_identical_and_overwrite_keeps_it(world, capsys):
    before = snapshot(world / "run")
    assert run(TRAIN, [*common(world), "--out", str(world / "run")]) == 1
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
