"""Prediction: stream a sliding-window segmentation over rasters of any size.

``roadseg.predict.predict(rasters, model="default", out=...)`` writes a class
raster per input (and optionally probabilities and road vectors). See
:func:`roadseg.predict.api.predict`. The package itself is callable too, so
``roadseg.predict(...)`` works whether or not this subpackage was imported first.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from roadseg.predict.api import predict
from roadseg.predict.result import PredictResult, RasterResult


class _CallableModule(types.ModuleType):
    """Makes ``roadseg.predict`` (the package) call :func:`predict`."""

    def __call__(self, *args: Any, **kwargs: Any) -> PredictResult:
        return predict(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["PredictResult", "RasterResult", "predict"]
