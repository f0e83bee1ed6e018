"""Run checkpoints (to resume) — not releases: those are weights folders (see export.py).

One dict holds everything needed to continue exactly: G, D, EMA G, both optimizers,
both grad scalers, the step, every RNG state and the config. Written atomically;
read back with ``weights_only=True`` so a checkpoint can never run code.
"""
import json
import os
import time
from pathlib import Path

import torch

from ..fileio import atomic_path

CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(state: dict, path: str | Path) -> None:
    with atomic_path(path) as tmp:  # a crash mid-write leaves the previous checkpoint intact
        torch.save(state, tmp)


def load_checkpoint(path: str | Path, map_location="cpu", required: tuple[str, ...] = ()) -> dict:
    """The checkpoint dict at ``path`` (a file or a run folder), holding every key in ``required``.
    Nothing is unpickled; a truncated, empty or foreign file is a ValueError naming it."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises RuntimeError, EOFError, UnpicklingError, ...
        raise ValueError(f"{path} is not a readable checkpoint ({type(e).__name__}: {str(e)[:100]}); "
                         "it was left as it is") from None
    missing = [k for k in required if not isinstance(state, dict) or k not in state]
    if missing:
        raise ValueError(f"{path} is not a catgan checkpoint of this kind (no {', '.join(missing[:3])}); "
                         "it was left as it is")
    return state


def check_run_folder(out: str | Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse, before any work, a run folder that would lose a run: a path through a file, a folder
    that already holds a run without --resume or --overwrite, --resume without a checkpoint."""
    out = Path(out)
    for parent in (out, *out.parents):
        if parent.exists() and not parent.is_dir():
            raise ValueError(f"--out {out}: {parent} is a file, not a folder; pass a folder path")
    if resume and overwrite:
        raise ValueError("--resume and --overwrite contradict each other: continue the run, or start it again")
    has_run = (out / CHECKPOINT_NAME).exists() or (out / "metrics.jsonl").exists()
    if resume and not (out / CHECKPOINT_NAME).is_file():
        raise FileNotFoundError(f"--resume: no {CHECKPOINT_NAME} in {out}; drop --resume to start a new run there")
    if has_run and not (resume or overwrite):
        raise ValueError(f"{out} already holds a run; continue it with --resume, or start again with --overwrite "
                         f"(the old run is kept as {out.name}.replaced-DATE-TIME)")


def move_run_aside(out: str | Path) -> Path | None:
    """--overwrite: the old run folder is renamed ``OUT.replaced-YYYYmmdd-HHMMSS``, never deleted."""
    out = Path(out)
    if not out.exists():
        return None
    aside = out.with_name(f"{out.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(out, aside)
    return aside


def rng_state() -> dict:
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def drop_log_rows_after(log: str | Path, key: str, last) -> None:
    """On resume: rows of a metrics.jsonl logged after the checkpoint (by a killed run) are dropped."""
    log = Path(log)
    if log.exists():
        rows = [r for r in log.read_text().splitlines() if r and json.loads(r)[key] <= last]
        log.write_text("".join(r + "\n" for r in rows))


def refuse_changed_settings(saved: dict, now: dict, resumable: set[str], defaults: dict | None = None) -> None:
    """``--resume`` must train on as the run did: raise naming every setting in ``now`` that differs
    from the checkpoint's ``saved`` one, except those in ``resumable``. A key missing from ``saved``
    (a checkpoint older than the setting) compares with ``defaults``, or is skipped without them."""
    defaults, changed = defaults or {}, []
    for key, value in now.items():
        if key in resumable or (key not in saved and key not in defaults):
            continue
        was = saved.get(key, defaults.get(key))
        if was != value:
            changed.append(f"--{key.replace('_', '-')} (checkpoint: {was!r}, now: {value!r})")
    if changed:
        raise ValueError("--resume with training settings that differ from the checkpoint's: "
                         + ", ".join(changed) + "; pass the run's own flags")
