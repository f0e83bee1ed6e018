"""Publish a weights folder to the Hugging Face Hub, with a model card rendered for the repo.

    python -m catgan.hub.publish weights/dcgan-64 USER/REPO [--private] [--revision BRANCH]
                             [--results results/table1.json] [--run runs/dcgan-64]

The token comes from HF_TOKEN or `hf auth login`; it is never printed or stored. Uploading the same
folder twice makes no commit. Locally only a temporary staging folder is written, and always removed.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from huggingface_hub import get_token

from .. import env
from ..cli import ArgumentParser, argument_checks, command
from ..eval.results import find_row, read_table
from ..latent import sample_grid
from ..latent.critic import has_critic, load_critic
from ..latent.directions import load_directions
from ..latent.encoder import load_encoder
from ..weights import (
    CARD_NAME,
    CONFIG_NAME,
    CRITIC_META,
    CRITIC_NAME,
    DIRECTIONS_META,
    DIRECTIONS_NAME,
    DIRECTIONS_PICTURE,
    ENCODER_META,
    ENCODER_NAME,
    EVOLUTION_NAME,
    SAMPLES_NAME,
    WEIGHTS_NAME,
)
from .card import read_card_data, render_card
from .fetch import HubError, check_repo_id, client, explain, scrub_token
from .loader import load_folder

log = logging.getLogger(__name__)

NO_TOKEN = ("no Hugging Face token: set HF_TOKEN or run `hf auth login` "
            "(a token with write access, from https://huggingface.co/settings/tokens)")


def require_token(token: str | None = None) -> str:
    """The token to publish with: ``token``, else HF_TOKEN, else huggingface_hub's stored login."""
    token = token or get_token()
    if not token:
        raise HubError(NO_TOKEN)
    return token


def hub_api(repo_id: str, token: str | None = None, *, shape: str = "USER/REPO", revision: str | None = None):
    """(HfApi, token) for writing to ``repo_id``, after the checks every upload makes first: a
    repo id of the form ``shape`` (and a valid ``revision``), not offline, a token."""
    check_repo_id(repo_id, revision, shape=shape)
    if env.is_offline():
        raise HubError("cannot upload in offline mode: unset HF_HUB_OFFLINE")
    token = require_token(token)
    return client(token), token


@dataclass(frozen=True)
class Pushed:
    repo_id: str
    commit_oid: str
    commit_url: str
    changed: bool  # False: the repo already held exactly these files, no commit was made
    files: tuple[str, ...]


def push(repo_id: str, stage: str | os.PathLike, files: list[str], *, message: str, repo_type: str = "model",
         private: bool = False, revision: str | None = None, token: str | None = None, delete: list[str] | None = None,
         refuse_public: bool = False, doing: str = "uploading to") -> Pushed:
    """Every write to the Hub: create ``repo_id`` if missing (and the branch ``revision``), then commit
    ``files`` from ``stage``, deleting the repo's other files that match ``delete`` (never
    .gitattributes), in one commit, or none when the repo holds them already."""
    api, token = hub_api(repo_id, token, shape="USER/REPO" if repo_type == "model" else "USER/NAME", revision=revision)
    try:
        extra = {"space_sdk": "gradio"} if repo_type == "space" else {}
        api.create_repo(repo_id, repo_type=repo_type, private=True if private else None, exist_ok=True, **extra)
        if revision:
            api.create_branch(repo_id, repo_type=repo_type, branch=revision, exist_ok=True)
        before = api.repo_info(repo_id, repo_type=repo_type, revision=revision)
        if refuse_public and not before.private:
            raise HubError(f"{repo_id} exists and is public; make it private, or pass --public if the photos' "
                           "licence allows it. Nothing was uploaded.")
        done = api.upload_folder(repo_id=repo_id, repo_type=repo_type, folder_path=str(stage), allow_patterns=files,
                                 delete_patterns=delete, commit_message=message, revision=revision)
    except HubError:
        raise
    except Exception as e:  # noqa: BLE001 - one clear line, never the token, never a traceback
        raise HubError(scrub_token(f"{doing} {repo_id} failed: {explain(e, repo_id)}; nothing was committed.",
                                   token)) from None
    return Pushed(repo_id, done.oid, done.commit_url, done.oid != before.sha, tuple(files))


def publish(weights_dir: str | os.PathLike, repo_id: str, *, private: bool = False, revision: str | None = None,
            results: str | os.PathLike | dict | None = None, run_dir: str | os.PathLike | None = None,
            token: str | None = None, commit_message: str | None = None) -> Pushed:
    """Upload a weights folder to ``repo_id`` (created if needed; ``revision``: a branch) in one
    commit: config.json, model.safetensors, a README.md card rendered for the repo (metrics from the
    ``results`` JSON of catgan.eval.evaluate when given), samples.png and evolution.gif. The same files
    again make no commit. Locally only a temporary staging folder is written, and always removed."""
    hub_api(repo_id, token, revision=revision)  # its checks, before the work of staging
    with tempfile.TemporaryDirectory(prefix="catgan-publish-") as stage:
        files = stage_files(weights_dir, stage, repo_id=repo_id, results=results, run_dir=run_dir)
        name = json.loads((Path(stage) / CONFIG_NAME).read_text())
        message = commit_message or f"Upload catgan {name['arch']}-{name['img_size']} generator"
        done = push(repo_id, stage, files, message=message, private=private, revision=revision, token=token,
                    doing="publishing to")
    log.info("%s %s: %s", "published" if done.changed else "unchanged", repo_id, done.commit_url)
    return done


def stage_files(weights_dir: str | os.PathLike, stage: str | os.PathLike, *, repo_id: str | None = None,
                results=None, run_dir: str | os.PathLike | None = None) -> list[str]:
    """Copy what gets uploaded into ``stage`` and render its README.md; returns the file names."""
    weights_dir, stage = Path(weights_dir), Path(stage)
    generator = load_folder(weights_dir)  # strict: weights that do not load are never published
    readme = weights_dir / CARD_NAME
    meta = read_card_data(readme.read_text()) if readme.is_file() else {}
    run = Path(run_dir) if run_dir else _run_dir_of(weights_dir)
    train_config, summary, metrics = meta.get("train_config"), meta.get("summary"), meta.get("metrics")
    if run is not None:
        train_config = (_read_json(run / CONFIG_NAME) or {}).get("train") or train_config
        summary = _read_json(run / "summary.json") or summary
    if results is not None:
        table = results if isinstance(results, dict) else read_table(results)
        here = weights_dir.resolve()
        metrics = find_row(table, [str(weights_dir), str(here), os.path.relpath(here), repo_id, weights_dir.name])
        if metrics is None:
            raise HubError(f"no row for {weights_dir} ({weights_dir.name}) in the results {results}")
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        shutil.copyfile(weights_dir / name, stage / name)
    critic = load_critic(weights_dir, generator) if has_critic(weights_dir) else None  # read back strictly
    if (weights_dir / SAMPLES_NAME).is_file():
        shutil.copyfile(weights_dir / SAMPLES_NAME, stage / SAMPLES_NAME)
    else:
        sample_grid(generator, critic=critic).save(stage / SAMPLES_NAME)
    gif = next((p for p in (weights_dir / EVOLUTION_NAME, run and run / EVOLUTION_NAME) if p and p.is_file()), None)
    if gif is not None:
        shutil.copyfile(gif, stage / EVOLUTION_NAME)
    named = load_directions(weights_dir)  # the named latent directions travel with the model
    if named is not None:
        for name in (DIRECTIONS_NAME, DIRECTIONS_META, DIRECTIONS_PICTURE):
            if (weights_dir / name).is_file():
                shutil.copyfile(weights_dir / name, stage / name)
    if (weights_dir / ENCODER_NAME).is_file():  # so is its inversion encoder, read back strictly first
        load_encoder(weights_dir, generator)
        for name in (ENCODER_NAME, ENCODER_META):
            shutil.copyfile(weights_dir / name, stage / name)
    if critic is not None:  # and its critic
        for name in (CRITIC_NAME, CRITIC_META):
            shutil.copyfile(weights_dir / name, stage / name)
    card = render_card(generator.config, folder=weights_dir, train_config=train_config,
                       summary=summary, metrics=metrics, repo_id=repo_id, gif=gif is not None,
                       directions=named.meta if named else None, encoder=(stage / ENCODER_NAME).is_file(),
                       critic=asdict(critic.config) if critic else None)
    (stage / CARD_NAME).write_text(card)
    return sorted(p.name for p in stage.iterdir())


def _run_dir_of(weights_dir: Path) -> Path | None:
    """train.py exports to RUN/generator: the run folder holds the config and summary."""
    run = weights_dir.resolve().parent
    return run if "train" in (_read_json(run / CONFIG_NAME) or {}) else None


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def pushed_line(done: Pushed, what: str, *, verb: str = "pushed", then: str = "") -> str:
    """What a command says after a push: what went where (and ``then``), or that nothing changed."""
    if not done.changed:
        return f"already up to date, no new commit: {what} -> {done.commit_url}"
    return f"{verb} {what} -> {done.commit_url}{then}"


def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="python -m catgan.hub.publish", description=__doc__.splitlines()[0])
    parser.add_argument("weights", help="weights folder (config.json, model.safetensors, ...)")
    parser.add_argument("repo_id", help="USER/REPO on the Hub (created if missing)")
    parser.add_argument("--private", action="store_true",
                        help="create the repo private (an existing repo keeps its visibility)")
    parser.add_argument("--revision", help="branch to commit to (created from main if missing); default main")
    parser.add_argument("--results", help="catgan.eval.evaluate results JSON (e.g. results/table1.json): "
                                          "the row naming this model fills the card's metrics")
    parser.add_argument("--run", help="run folder the weights came from (training config, summary, evolution.gif)")
    parser.add_argument("--message", help="commit message")
    args = parser.parse_args(argv)
    with argument_checks():  # a mistyped repo id or revision: exit 2 before any work
        check_repo_id(args.repo_id, args.revision)
    done = publish(args.weights, args.repo_id, private=args.private, revision=args.revision,
                   results=args.results, run_dir=args.run, commit_message=args.message)
    print(pushed_line(done, ", ".join(done.files), verb="published"))
    return 0


entry = command(main)  # the console script


if __name__ == "__main__":
    sys.exit(entry())
