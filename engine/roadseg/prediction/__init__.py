"""Prediction: stream a sliding-window segmentation over rasters of any size.

``roadseg.prediction.predict(rasters, model="default", out=...)`` (also
:func:`roadseg.api.predict`) writes a class raster per input (and optionally
probabilities and road vectors), with :class:`PredictOptions`. See
:func:`roadseg.prediction.api.predict`.
"""

from __future__ import annotations

from roadseg.prediction.api import predict
from roadseg.prediction.options import PredictOptions
from roadseg.prediction.result import PredictResult, RasterResult

__all__ = ["PredictOptions", "PredictResult", "RasterResult", "predict"]
