"""roadseg: road mapping from aerial and satellite imagery.

The steps of the data flow are functions of the package, each implemented in the
subpackage named after its step (a noun, so the function and the package never clash):

* :func:`roadseg.predict` (:mod:`roadseg.prediction`) — class rasters (and
  probabilities, vectors) from imagery
* :func:`roadseg.check_fit` (:mod:`roadseg.prediction.fit`) — how sure a model is of some
  imagery, from a few predicted windows, before a long run
* :func:`roadseg.vectorize` (:mod:`roadseg.vectorization`) — road polygons and
  centrelines from a class raster
* :func:`roadseg.evaluate` (:mod:`roadseg.evaluation`) — scores of a prediction
  against labels
* :func:`roadseg.train` (:mod:`roadseg.training`) — a model file from imagery and labels
* :func:`roadseg.adapt` (:mod:`roadseg.adaptation`) — a model fine-tuned to an area from
  roads the user has, within a time budget
* :func:`roadseg.make_scene` (:mod:`roadseg.synth`) — a synthetic scene (image and
  road vectors)

``import roadseg`` stays fast (no torch): the functions load on first use. The same
functions and their option and result types are in :mod:`roadseg.api`.

>>> import roadseg
>>> roadseg.predict.__module__
'roadseg.prediction.api'
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from roadseg._version import __version__

# The venv sees Debian's python3-matplotlib (QGIS's, through --system-site-packages) beside
# its own matplotlib: Debian's regular ``mpl_toolkits`` package shadows the wheel's namespace
# one, so importing pyplot (Lightning's torchmetrics does, for `train` and `adapt`) warns that
# Axes3D cannot be imported. roadseg draws no 3-D plots; the warning is noise to its users.
warnings.filterwarnings("ignore", message="Unable to import Axes3D", category=UserWarning)

if TYPE_CHECKING:
    from roadseg.api import adapt, check_fit, evaluate, make_scene, predict, train, vectorize

_LAZY = ("predict", "check_fit", "vectorize", "evaluate", "train", "adapt", "make_scene")

__all__ = [
    "__version__",
    "adapt",
    "check_fit",
    "evaluate",
    "make_scene",
    "predict",
    "train",
    "vectorize",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from roadseg import api

        return getattr(api, name)
    raise AttributeError(f"module 'roadseg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
