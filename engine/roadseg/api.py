"""The public Python API in one place: the steps of the data flow, adaptation, scene making.

>>> from roadseg.api import predict, vectorize, evaluate, train, make_scene  # doctest: +SKIP

Each function lives in the subpackage named after its step (``roadseg.prediction.predict``,
``roadseg.vectorization.vectorize``, ``roadseg.evaluation.evaluate``, ``roadseg.training.train``);
this module gathers them with their option and result types. ``predict``,
``vectorize`` and ``evaluate`` take their inputs and output, then an options object
(:class:`PredictOptions`, :class:`VectorizeOptions`, :class:`EvaluateOptions`) and/or
keyword overrides of its fields; ``train`` takes a configuration and keyword overrides;
``adapt`` (``roadseg.adaptation.adapt``) takes rasters, labels and keyword options;
``check_fit`` (``roadseg.prediction.fit.check_fit``) takes rasters, a model and prediction
options, and writes nothing.
"""

from __future__ import annotations

from roadseg.adaptation.api import adapt
from roadseg.adaptation.result import AdaptResult
from roadseg.evaluation.api import EvaluationResult, evaluate
from roadseg.evaluation.options import EvaluateOptions
from roadseg.prediction.api import predict
from roadseg.prediction.fit import FitResult, RasterFit, check_fit
from roadseg.prediction.options import PredictOptions
from roadseg.prediction.result import PredictResult, RasterResult
from roadseg.synth.scene import SceneResult, make_scene
from roadseg.training.api import train
from roadseg.training.config import TrainConfig
from roadseg.training.rundir import TrainResult
from roadseg.vectorization.api import VectorizeResult, vectorize
from roadseg.vectorization.params import VectorizeOptions

__all__ = [
    "AdaptResult",
    "EvaluateOptions",
    "EvaluationResult",
    "FitResult",
    "PredictOptions",
    "PredictResult",
    "RasterFit",
    "RasterResult",
    "SceneResult",
    "TrainConfig",
    "TrainResult",
    "VectorizeOptions",
    "VectorizeResult",
    "adapt",
    "check_fit",
    "evaluate",
    "make_scene",
    "predict",
    "train",
    "vectorize",
]
