"""train.py under the real torchrun launcher: 2 CPU processes, gloo backend."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from catgan.train.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_torchrun_two_processes(cats_zip, tmp_path):
    common = ["--data", str(cats_zip), "--limit", "256", "--size", "32", "--g-width", "16", "--d-width", "16",
              "--batch-size", "16", "--log-every", "2", "--ckpt-every", "3", "--sample-every", "3", "--no-progress",
              "--r1", "1", "--r1-every", "2"]  # R1's double backward under DDP: D's ranks must stay in sync
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          str(ROOT / "train.py"), *common, "--steps", "6", "--out", str(tmp_path / "ddp")],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert ddp.stderr.count("256 images at 32px") == 1  # only rank 0 talks
    single = subprocess.run([sys.executable, str(ROOT / "train.py"), *common, "--steps", "3",
                             "--out", str(tmp_path / "single")], capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]

    # same checkpoint format as a single-process run: same keys, same tensor shapes, no "module." prefix
    a, b = load_checkpoint(tmp_path / "ddp"), load_checkpoint(tmp_path / "single")
    assert a.keys() == b.keys()
    for net in ("G", "D", "ema"):
        assert {k: v.shape for k, v in a[net].items()} == {k: v.shape for k, v in b[net].items()}
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["images_seen"] == 6 * 16 * 2
    # G, D and EMA G identical across ranks; disjoint data shards of equal size
    assert summary["ranks_in_sync"] is True
    assert summary["epoch0_shard_overlap"] == 0 and summary["epoch0_shard_sizes"] == [128, 128]
    # rank 0 alone wrote the outputs
    assert len(list((tmp_path / "ddp" / "samples").glob("step_*.png"))) == 2
    assert len((tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()) == 3

    # a 2-rank checkpoint resumes in a single process
    resumed = subprocess.run([sys.executable, str(ROOT / "train.py"), *common, "--steps", "8", "--resume",
                              "--out", str(tmp_path / "ddp")], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from step 6" in resumed.stderr
    state = load_checkpoint(tmp_path / "ddp")
    assert state["step"] == 8 and all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())
