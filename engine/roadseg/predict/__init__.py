"""Prediction: stream a sliding-window segmentation over rasters of any size.

``roadseg.predict.predict(rasters, model="default", out=...)`` writes a class
raster per input (and optionally probabilities and road vectors). See
:func:`roadseg.predict.api.predict`. The package itself is callable too, so
``roadseg.predict(...)`` works whether or not this subpackage was imported first.
"""

from __future__ import annotations

from roadseg._callable import callable_package
from roadseg.predict.api import predict
from roadseg.predict.result import PredictResult, RasterResult

callable_package(__name__, predict)

__all__ = ["PredictResult", "RasterResult", "predict"]
