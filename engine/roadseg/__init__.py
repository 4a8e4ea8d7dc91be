"""roadseg: road mapping from aerial and satellite imagery.

The public API functions are imported lazily (``import roadseg`` stays fast and
does not import torch):

* :func:`roadseg.predict` — class rasters (and probabilities, vectors) from imagery
* :func:`roadseg.vectorize` — road polygons and centrelines from a class raster
* :func:`roadseg.evaluate` — scores of a prediction against labels
* :func:`roadseg.train` — a model file from imagery and labels
* :func:`roadseg.adapt` — a model fine-tuned to an area from roads the user has, in minutes
* :func:`roadseg.make_scene` — a synthetic scene (image and road vectors)
"""

from __future__ import annotations

import importlib
from typing import Any

from roadseg._version import __version__

#: Public name → (module, attribute) it is imported from on first use.
_LAZY: dict[str, tuple[str, str]] = {
    "predict": ("roadseg.predict", "predict"),
    "vectorize": ("roadseg.vectorize", "vectorize"),
    "evaluate": ("roadseg.evaluate", "evaluate"),
    "train": ("roadseg.train", "train"),
    "adapt": ("roadseg.adapt", "adapt"),
    "make_scene": ("roadseg.synth", "make_scene"),
}


def __getattr__(name: str) -> Any:
    """Import a public API function on first access."""
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'roadseg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["__version__", *_LAZY]
