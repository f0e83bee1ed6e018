"""Host the app as a Hugging Face Space, and give its quiz real photos.

    python -m catgan.hub.space deploy USER/SPACE [--private] [--weights dcgan-64 gan-32 ...] [--dry-run]
    python -m catgan.hub.space upload-photos FOLDER_OR_ZIP USER/REPO [--public]

``deploy`` creates the Space (Gradio SDK) if needed and makes it hold exactly the files the app
needs, in one commit: app.py, app_ui/ and catgan/ (the Python files git tracks: stray files never
go, and outside a git checkout deploy refuses), requirements.txt (the runtime; tests use
requirements-dev.txt), README.md (its front matter configures the Space), LICENSE, and the known
files (catgan.weights.FOLDER_FILES) of the chosen weights/ folders (default: all). Symbolic links
are refused, never followed; a file may be at most MAX_FILE_MB, all of them MAX_TOTAL_MB. Files the
Space held that are not in that list are deleted in the same commit; the same files again make no commit.

``upload-photos`` puts a photo set (a folder or a zip, e.g. the Kaggle "Cats faces 64x64" zip) in a
dataset repo as one zip, PRIVATE unless --public: that set's licence allows research use only. The
Space reads it with the variable ``CATGAN_REAL=USER/REPO`` and the secret ``HF_TOKEN``.

The token comes from HF_TOKEN or `hf auth login`; it is never printed or stored. Locally only a
temporary staging folder is written, and always removed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .. import env
from ..cli import ArgumentParser, argument_checks, command
from ..data.dataset import image_names
from ..quiz.photos import PHOTO_PATTERNS
from ..weights import FOLDER_FILES
from .fetch import check_repo_id
from .publish import Pushed, push, pushed_line

ROOT = env.REPO_ROOT
TOP_FILES = ("app.py", "requirements.txt", "README.md", "LICENSE")
PACKAGES = ("app_ui", "catgan")  # their *.py files that git tracks, at any depth
MAX_FILE_MB, MAX_TOTAL_MB = 50, 300  # a Space's files, each and all together (the bundled ones: 12 and 37 MB)
PHOTOS_NAME = "photos.zip"
ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # a fixed time stamp: the same photos make the same zip, so no new commit


# ---------------------------------------------------------------- deploy

def bundled_weights(root: Path = ROOT) -> list[str]:
    """The weights/ folders that can go to a Space: every folder with a config.json."""
    folder = root / "weights"
    return sorted(p.name for p in folder.iterdir() if (p / "config.json").is_file()) if folder.is_dir() else []


def space_files(root: Path = ROOT, weights: list[str] | None = None) -> list[str]:
    """Repo-relative paths of exactly what a Space needs, sorted: the code files git tracks (refused
    outside a git checkout), and the known files of the chosen weights/ folders (None: all of them).
    ValueError, naming the path, for a symbolic link or a file over the size caps."""
    tracked = tracked_files(root)
    missing = [name for name in TOP_FILES if name not in tracked]
    if missing:
        raise FileNotFoundError(f"a Space needs {', '.join(missing)} in {root}, tracked by git")
    available = bundled_weights(root)
    chosen = available if weights is None else list(dict.fromkeys(weights))
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise ValueError(f"no weights folder {', '.join(unknown)} under weights/ (there are: "
                         f"{', '.join(available) or 'none'})")
    files = list(TOP_FILES) + [f for f in tracked if f.startswith(tuple(f"{p}/" for p in PACKAGES))
                               and f.endswith(".py") and not _hidden(Path(f)) and os.path.lexists(root / f)]
    files += [f"weights/{name}/{f}" for name in chosen for f in FOLDER_FILES
              if os.path.lexists(root / "weights" / name / f)]
    sizes = [_checked_size(root, rel) for rel in files]
    if sum(sizes) > MAX_TOTAL_MB * 2**20:
        raise ValueError(f"the Space's {len(files)} files are {sum(sizes) / 2**20:.0f} MB together; at most "
                         f"{MAX_TOTAL_MB} MB may go (ship fewer --weights)")
    return sorted(files)


def tracked_files(root: Path) -> set[str]:
    """The files git tracks under ``root``; ValueError when ``root`` is not a git checkout (stray
    files such as secrets or checkpoints are never tracked, so a deploy never guesses)."""
    try:
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        raise ValueError(f"{root} is not a git checkout: a Space gets only the code files git tracks; "
                         "deploy from a clone of the repository") from None
    return set(os.fsdecode(listed).split("\0")) - {""}


def _checked_size(root: Path, rel: str) -> int:
    """``rel``'s size; ValueError if it, or a folder on its way, is a symbolic link, or it is too large."""
    for part in [*reversed(Path(rel).parents)][1:] + [Path(rel)]:
        if (root / part).is_symlink():
            raise ValueError(f"{part.as_posix()} is a symbolic link; a Space gets no links (links are never "
                             "followed): put the file itself there")
    size = (root / rel).stat().st_size
    if size > MAX_FILE_MB * 2**20:
        raise ValueError(f"{rel} is {size / 2**20:.0f} MB; a Space file may be at most {MAX_FILE_MB} MB")
    return size


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
            with open(os.open(root / rel, os.O_RDONLY | os.O_NOFOLLOW), "rb") as src, \
                    open(Path(stage) / rel, "wb") as out:  # O_NOFOLLOW: a link made since the check is refused
                shutil.copyfileobj(src, out)
        return push(repo_id, stage, files, repo_type="space", private=private, token=token,
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
        return push(repo_id, stage, ["README.md", PHOTOS_NAME], repo_type="dataset", private=not public, token=token,
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
    with argument_checks():  # a mistyped repo id: exit 2 before any work
        check_repo_id(args.repo_id, shape="USER/NAME")
    if args.command == "deploy" and args.dry_run:
        files = space_files(ROOT, args.weights)  # ROOT read now: tests point it elsewhere
        sizes = {f: (ROOT / f).stat().st_size for f in files}
        print("\n".join(f"{size:>12,} B  {f}" for f, size in sizes.items())
              + f"\n{len(files)} files, {sum(sizes.values()) / 2**20:.1f} MB would go to {args.repo_id}")
        return 0
    if args.command == "deploy":
        done = deploy(args.repo_id, private=args.private, weights=args.weights, root=ROOT)
        follow = ("\nThen, in the Space's settings: the variable CATGAN_REAL (photos, e.g. from upload-photos), "
                  "the secret HF_TOKEN, and CATGAN_QUIZ_REPO to keep the answers.")
    else:
        done = upload_photos(args.source, args.repo_id, public=args.public)
        follow = f"\nIn the Space's settings: the variable CATGAN_REAL={args.repo_id}, and the secret HF_TOKEN."
    print(pushed_line(done, f"{len(done.files)} files", then=follow))
    return 0


entry = command(main)  # the console script


if __name__ == "__main__":
    sys.exit(entry())
