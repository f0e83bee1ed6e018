"""catgan's environment: every variable it reads, the folders it uses, and whether it may go online.

Values are read when a function runs, never at import, so a test or a host can change them late.
"""
import os
from pathlib import Path

from huggingface_hub import constants

REPO_ROOT = Path(__file__).resolve().parents[1]  # a checkout: app.py, weights/, tests/ beside catgan/
BUNDLED_WEIGHTS = REPO_ROOT / "weights"  # weights/<arch>-<size> and judges shipped with the code

# every variable catgan reads, with what it means
CACHE = "CATGAN_CACHE"  # decoded datasets, Inception features, judge outputs (default ~/.cache/catgan)
SHARED = "CATGAN_SHARED"  # data and pretrained weights kept beside the checkout (default ../shared)
DEBUG = "CATGAN_DEBUG"  # 1: command lines show the traceback behind an error line
WEIGHTS = "CATGAN_WEIGHTS"  # the app's extra models: NAME=FOLDER or NAME=USER/REPO[@REVISION], comma-separated
REAL = "CATGAN_REAL"  # the quiz's real photos: a folder, a zip or a dataset repo id
QUIZ_DB = "CATGAN_QUIZ_DB"  # the quiz's SQLite file
QUIZ_REPO = "CATGAN_QUIZ_REPO"  # a dataset repo that keeps quiz answers across restarts
FID_INCEPTION = "CATGAN_FID_INCEPTION"  # the FID Inception's weights file
RESNET50 = "CATGAN_RESNET50"  # a local ResNet-50 ImageNet state dict
EFFICIENTNET_LITE0 = "CATGAN_EFFICIENTNET_LITE0"  # a local EfficientNet-Lite0 state dict
MOBILENET_V2 = "CATGAN_MOBILENET_V2"  # a local MobileNetV2 state dict
RESNET_ANIMALS = "CATGAN_RESNET_ANIMALS"  # the resnet-animals judge's weights folder
HF_ENDPOINT, HF_HUB_CACHE, HF_TOKEN = "HF_ENDPOINT", "HF_HUB_CACHE", "HF_TOKEN"
WORLD_SIZE, LOCAL_RANK = "WORLD_SIZE", "LOCAL_RANK"  # set by torchrun for each process


def value(key: str) -> str | None:
    """The variable's value, or None when it is unset or empty."""
    return os.environ.get(key) or None


def flag(key: str) -> bool:
    """A yes/no variable, read the way huggingface_hub reads its own ("1", "ON", "YES", "TRUE")."""
    return (value(key) or "").upper() in constants.ENV_VARS_TRUE_VALUES


def is_offline() -> bool:
    """HF_HUB_OFFLINE, as huggingface_hub read it at import or as set since: never reach the Hub."""
    return constants.HF_HUB_OFFLINE or flag("HF_HUB_OFFLINE")


def cache_root() -> Path:
    """catgan's cache folder: $CATGAN_CACHE, else $XDG_CACHE_HOME/catgan (~/.cache/catgan)."""
    if value(CACHE):
        return Path(value(CACHE))
    return Path(value("XDG_CACHE_HOME") or Path.home() / ".cache") / "catgan"


def shared_root() -> Path:
    """Data and pretrained weights kept beside the checkout: $CATGAN_SHARED, else ../shared."""
    return Path(value(SHARED) or REPO_ROOT.parent / "shared")


def path_from(key: str, default: Path) -> Path:
    """A file or folder named by ``key``, else ``default``."""
    return Path(value(key) or default)
