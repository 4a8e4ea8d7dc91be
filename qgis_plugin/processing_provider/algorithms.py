"""The Processing algorithms (one module each), gathered for the provider."""

from __future__ import annotations

from .adapt import AdaptModelAlgorithm
from .check_fit import CheckFitAlgorithm
from .segment import SegmentRoadsAlgorithm
from .train import TrainModelAlgorithm
from .vectorize import VectorizeRoadsAlgorithm

__all__ = [
    "AdaptModelAlgorithm",
    "CheckFitAlgorithm",
    "SegmentRoadsAlgorithm",
    "TrainModelAlgorithm",
    "VectorizeRoadsAlgorithm",
]
