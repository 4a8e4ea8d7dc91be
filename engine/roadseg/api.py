"""The public Python API in one place: the four steps of the data flow and scene making.

>>> from roadseg.api import predict, vectorize, evaluate, train, make_scene  # doctest: +SKIP

Each function lives in the subpackage named after its step (``roadseg.predict.predict``,
``roadseg.vectorize.vectorize``, ``roadseg.evaluate.evaluate``, ``roadseg.train.train``);
this module gathers them with their option and result types. ``predict``,
``vectorize`` and ``evaluate`` take their inputs and output, then an options object
(:class:`PredictOptions`, :class:`VectorizeOptions`, :class:`EvaluateOptions`) and/or
keyword overrides of its fields; ``train`` takes a configuration and keyword overrides.
"""

from __future__ import annotations

from roadseg.evaluate.api import EvaluationResult, evaluate
from roadseg.evaluate.options import EvaluateOptions
from roadseg.predict.api import predict
from roadseg.predict.options import PredictOptions
from roadseg.predict.result import PredictResult, RasterResult
from roadseg.synth.scene import SceneResult, make_scene
from roadseg.train.api import train
from roadseg.train.config import TrainConfig
from roadseg.train.rundir import TrainResult
from roadseg.vectorize.api import VectorizeResult, vectorize
from roadseg.vectorize.params import VectorizeOptions

__all__ = [
    "EvaluateOptions",
    "EvaluationResult",
    "PredictOptions",
    "PredictResult",
    "RasterResult",
    "SceneResult",
    "TrainConfig",
    "TrainResult",
    "VectorizeOptions",
    "VectorizeResult",
    "evaluate",
    "make_scene",
    "predict",
    "train",
    "vectorize",
]
