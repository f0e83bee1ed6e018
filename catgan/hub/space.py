"""Host the app as a Hugging Face Space, and give its quiz real photos.

    python -m catgan.hub.space deploy USER/SPACE [--private] [--weights dcgan-64 gan-32 ...] [--dry-run]
    python -m catgan.hub.space upload-photos FOLDER_OR_ZIP USER/REPO [--public]

``deploy`` creates the Space (Gradio SDK) if needed and makes it hold exactly the files the app
needs, in one commit: app.py, app_ui/ and catgan/ (Python files only), requirements.txt (the
runtime; tests use requirements-dev.txt), README.md (its front matter configures the Space),
LICENSE, and the chosen weights/ folders (default: all). Files the Space held that are not in that
list are deleted in the same commit; the same files again make no commit.

``upload-photos`` puts a photo set (a folder or a zip, e.g. the Kaggle "Cats faces 64x64" zip) in a
dataset repo as one zip, PRIVATE unless --public: that set's licence allows research use only. The
Space reads it with the variable ``CATGAN_REAL=USER/REPO`` and the secret ``HF_TOKEN``.

The token comes from HF_TOKEN or `hf auth login`; it is never printed or stored. Locally only a
temporary staging folder is written, and always removed.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .. import env
from ..cli import ArgumentParser, command
from ..data.dataset import image_names
from ..quiz.store import PHOTO_PATTERNS
from .loader import HubError
from .publish import hub_api, scrub_token, why_publish_failed

ROOT = env.REPO_ROOT
TOP_FILES = ("app.py", "requirements.txt", "README.md", "LICENSE")
PACKAGES = ("app_ui", "catgan")  # their *.py files, at any depth
PHOTOS_NAME = "photos.zip"
ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # a fixed time stamp: the same photos make the same zip, so no new commit


@dataclass(frozen=True)
class Pushed:
    repo_id: str
    commit_url: str
    changed: bool  # False: the repo already held exactly these files, no commit was made
    files: tuple[str, ...]


# ---------------------------------------------------------------- deploy

def bundled_weights(root: Path = ROOT) -> list[str]:
    """The weights/ folders that can go to a Space: every folder with a config.json."""
    folder = root / "weights"
    return sorted(p.name for p in folder.iterdir() if (p / "config.json").is_file()) if folder.is_dir() else []


def space_files(root: Path = ROOT, weights: list[str] | None = None) -> list[str]:
    """Repo-relative paths of exactly what a Space needs, sorted. ``weights``: folder names under
    weights/ (None: all of them)."""
    missing = [name for name in TOP_FILES if not (root / name).is_file()]
    if missing:
        raise FileNotFoundError(f"a Space needs {', '.join(missing)} in {root}")
    available = bundled_weights(root)
    chosen = available if weights is None else list(dict.fromkeys(weights))
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise ValueError(f"no weights folder {', '.join(unknown)} under weights/ (there are: "
                         f"{', '.join(available) or 'none'})")
    files = list(TOP_FILES)
    for package in PACKAGES:
        files += [p.relative_to(root).as_posix() for p in (root / package).rglob("*.py")
                  if not _hidden(p.relative_to(root))]
    for name in chosen:
        files += [p.relative_to(root).as_posix() for p in (root / "weights" / name).rglob("*")
                  if p.is_file() and not _hidden(p.relative_to(root))]
    return sorted(files)


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") or part == "__pycache__" for part in rel.parts)


def deploy(repo_id: str, *, private: bool = False, weights: list[str] | None = None, root: Path = ROOT,
           token: str | None = None, commit_message: str | None = None) -> Pushed:
    """Create the Space ``repo_id`` if needed and make it hold exactly ``space_files``, in one
    commit (none when it holds them already)."""
    files = space_files(root, weights)
    with tempfile.TemporaryDirectory(prefix="catgan-space-") as stage:
        for rel in files:
            (Path(stage) / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / rel, Path(stage) / rel)
        return _push(repo_id, "space", stage, files, private=private, token=token,
                     message=commit_message or "Deploy catgan", delete=["*"])


# ---------------------------------------------------------------- photos

def upload_photos(source: str | os.PathLike, repo_id: str, *, public: bool = False,
                  token: str | None = None) -> Pushed:
    """Upload a folder or zip of photos to the dataset ``repo_id`` (private unless ``public``) as
    photos.zip, with a card that states the licence."""
    source = Path(source)
    names = image_names(source)
    with tempfile.TemporaryDirectory(prefix="catgan-photos-") as stage:
        if source.is_dir():  # stored, not deflated (photos are compressed already), in a fixed order and time
            with zipfile.ZipFile(Path(stage) / PHOTOS_NAME, "w", zipfile.ZIP_STORED) as z:
                for name in names:
                    z.writestr(zipfile.ZipInfo(name, ZIP_DATE), (source / name).read_bytes())
        else:
            shutil.copyfile(source, Path(stage) / PHOTOS_NAME)
        (Path(stage) / "README.md").write_text(photo_card(repo_id, len(names)))
        return _push(repo_id, "dataset", stage, ["README.md", PHOTOS_NAME], private=not public, token=token,
                     message=f"Upload {len(names)} photos", delete=PHOTO_PATTERNS, refuse_public=not public)


def photo_card(repo_id: str, n: int) -> str:
    return f"""---
license: other
license_name: research-only
pretty_name: Real cat photos for the catgan quiz
viewer: false
---

# Real cat photos for the catgan quiz

{n} photos in `{PHOTOS_NAME}`, uploaded by `python -m catgan.hub.space upload-photos`. A catgan Space
shows them in its "Which cat is real?" quiz when its variable `CATGAN_REAL` is `{repo_id}` (with a
read token as the secret `HF_TOKEN` while this repo is private).

The photos are their owners'. Sets such as the Kaggle "Cats faces 64x64" (derived from the CAT
dataset, Zhang, Sun & Tang, ECCV 2008) are for research and non-commercial use only: keep this
repo private unless your set's licence allows more.
"""


# ---------------------------------------------------------------- the one Hub call

def _push(repo_id: str, repo_type: str, stage: str, files: list[str], *, private: bool, token: str | None,
          message: str, delete: list[str], refuse_public: bool = False) -> Pushed:
    """Create ``repo_id`` if missing and commit ``files`` from ``stage``, deleting the repo's other
    files that match ``delete`` (never .gitattributes), in one commit or none."""
    api, token = hub_api(repo_id, token, shape="USER/NAME")
    try:
        extra = {"space_sdk": "gradio"} if repo_type == "space" else {}
        api.create_repo(repo_id, repo_type=repo_type, private=True if private else None, exist_ok=True, **extra)
        info = api.repo_info(repo_id, repo_type=repo_type)
        if refuse_public and not info.private:
            raise HubError(f"{repo_id} exists and is public; make it private, or pass --public if the photos' "
                           "licence allows it. Nothing was uploaded.")
        done = api.upload_folder(repo_id=repo_id, repo_type=repo_type, folder_path=stage, allow_patterns=files,
                                 delete_patterns=delete, commit_message=message)
    except HubError:
        raise
    except Exception as e:  # noqa: BLE001 - one clear line, never the token, never a traceback
        raise HubError(scrub_token(f"uploading to {repo_id} failed: {why_publish_failed(e, repo_id)}; "
                              "nothing was committed.", token)) from None
    return Pushed(repo_id, done.commit_url, done.oid != info.sha, tuple(files))


def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="python -m catgan.hub.space", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    p_deploy = sub.add_parser("deploy", help="create or update the Space in one commit")
    p_deploy.add_argument("repo_id", help="USER/SPACE (created if missing)")
    p_deploy.add_argument("--private", action="store_true", help="create the Space private")
    p_deploy.add_argument("--weights", nargs="+", metavar="NAME", help=f"weights/ folders to ship (default: all: "
                                                                        f"{', '.join(bundled_weights()) or 'none'})")
    p_deploy.add_argument("--dry-run", action="store_true", help="list the files and their size; upload nothing")
    p_photos = sub.add_parser("upload-photos", help="put real photos for the quiz in a (private) dataset repo")
    p_photos.add_argument("source", help="a folder or a .zip of photos")
    p_photos.add_argument("repo_id", help="USER/REPO (a dataset repo, created if missing)")
    p_photos.add_argument("--public", action="store_true", help="make a new repo public (only if the licence allows)")
    args = parser.parse_args(argv)

    if args.command == "deploy" and args.dry_run:
        files = space_files(ROOT, args.weights)  # ROOT read now: tests point it elsewhere
        size = sum((ROOT / f).stat().st_size for f in files)
        print("\n".join(files) + f"\n{len(files)} files, {size / 2**20:.1f} MB would go to {args.repo_id}")
        return 0
    if args.command == "deploy":
        done = deploy(args.repo_id, private=args.private, weights=args.weights, root=ROOT)
        follow = ("\nThen, in the Space's settings: the variable CATGAN_REAL (photos, e.g. from upload-photos), "
                  "the secret HF_TOKEN, and CATGAN_QUIZ_REPO to keep the answers.")
    else:
        done = upload_photos(args.source, args.repo_id, public=args.public)
        follow = f"\nIn the Space's settings: the variable CATGAN_REAL={args.repo_id}, and the secret HF_TOKEN."
    verb = "pushed" if done.changed else "already up to date, no new commit:"
    print(f"{verb} {len(done.files)} files -> {done.commit_url}{follow if done.changed else ''}")
    return 0


entry = command(main)  # the console script


if __name__ == "__main__":
    sys.exit(entry())
