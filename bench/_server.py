"""Start `python app.py` in a subprocess for the app benchmarks, and wait until it answers."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
       "NO_PROXY": "127.0.0.1,localhost"}
os.environ.update(ENV)


def full_size_weights(folder: Path) -> Path:
    """weights/ when it holds a model; else an untrained full-size DCGAN-64 (same cost per image)."""
    if any((p / "config.json").is_file() for p in (ROOT / "weights").glob("*")):
        return ROOT / "weights"
    sys.path.insert(0, str(ROOT))
    from catgan.models import ModelConfig, build_generator

    g = build_generator(ModelConfig(arch="dcgan", img_size=64))
    g.save_pretrained(folder / "dcgan-64", config=g.config)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    def __init__(self, real: str | None, quiz_db: Path, weights: Path | None = None):
        self.tmp = Path(tempfile.mkdtemp(prefix="catgan-bench-"))
        self.weights = weights or full_size_weights(self.tmp / "weights")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--weights", str(self.weights),
               "--quiz-db", str(quiz_db), "--real", real or ""]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **ENV}, stdout=subprocess.DEVNULL,
                                     stderr=open(self.tmp / "server.log", "w"))
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(self.url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        self.close()
        raise RuntimeError(f"the app did not start; see {self.tmp / 'server.log'}")

    def rss_mb(self, key: str = "VmRSS") -> float:
        """The server's resident memory (or, with "VmHWM", its peak so far) in MB (Linux /proc)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def percentiles(xs: list[float]) -> tuple[float, float]:
    import numpy as np

    return (float(np.percentile(xs, 50)), float(np.percentile(xs, 95))) if xs else (float("nan"), float("nan"))
