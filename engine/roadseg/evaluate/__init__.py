"""Evaluate a class raster against truth labels: pixel, relaxed and road-network metrics.

Public API::

    from roadseg.evaluate import evaluate
    res = evaluate("classes.tif", "roads.gpkg", out_dir="eval/")
    print(res.metrics["miou"], res.metrics["apls"]["apls"])

Pure metric functions (arrays and graphs in, numbers out):
:func:`~roadseg.metrics.confusion_matrix`,
:func:`~roadseg.metrics.pixel_scores` (shared with training),
:func:`~roadseg.evaluate.relaxed.relaxed_counts`,
:func:`~roadseg.evaluate.graphs.graph_from_lines`, :func:`~roadseg.evaluate.apls.apls`.
"""

from roadseg.evaluate.api import EvaluationResult, evaluate
from roadseg.evaluate.apls import APLSResult, apls
from roadseg.evaluate.graphs import graph_from_lines
from roadseg.evaluate.options import EvaluateOptions
from roadseg.evaluate.relaxed import RelaxedCounts, relaxed_counts
from roadseg.metrics import PixelScores, confusion_matrix, pixel_scores

__all__ = [
    "APLSResult",
    "EvaluateOptions",
    "EvaluationResult",
    "PixelScores",
    "RelaxedCounts",
    "apls",
    "confusion_matrix",
    "evaluate",
    "graph_from_lines",
    "pixel_scores",
    "relaxed_counts",
]
