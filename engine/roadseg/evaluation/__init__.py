"""Evaluate a class raster against truth labels: pixel, relaxed and road-network metrics.

Public API::

    from roadseg.evaluation import evaluate
    res = evaluate("classes.tif", "roads.gpkg", out_dir="eval/")
    print(res.metrics["miou"], res.metrics["apls"]["apls"])

Pure metric functions (arrays and graphs in, numbers out):
:func:`~roadseg.metrics.confusion_matrix`,
:func:`~roadseg.metrics.pixel_scores` (shared with training),
:func:`~roadseg.evaluation.relaxed.relaxed_counts`,
:func:`~roadseg.evaluation.graphs.graph_from_lines`, :func:`~roadseg.evaluation.apls.apls`.
"""

from roadseg.evaluation.api import EvaluationResult, evaluate
from roadseg.evaluation.apls import APLSResult, apls
from roadseg.evaluation.graphs import graph_from_lines
from roadseg.evaluation.options import EvaluateOptions
from roadseg.evaluation.relaxed import RelaxedCounts, relaxed_counts
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
