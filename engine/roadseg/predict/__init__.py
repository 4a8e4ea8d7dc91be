"""Prediction: stream a sliding-window segmentation over rasters of any size.

``roadseg.predict.predict(rasters, model="default", out=...)`` (also
:func:`roadseg.api.predict`) writes a class raster per input (and optionally
probabilities and road vectors), with :class:`PredictOptions`. See
:func:`roadseg.predict.api.predict`.
"""

from __future__ import annotations

from roadseg.predict.api import predict
from roadseg.predict.options import PredictOptions
from roadseg.predict.result import PredictResult, RasterResult

__all__ = ["PredictOptions", "PredictResult", "RasterResult", "predict"]
