"""The Processing algorithms (one module each), gathered for the provider."""

from __future__ import annotations

from .adapt import AdaptModelAlgorithm
from .segment import SegmentRoadsAlgorithm
from .train import TrainModelAlgorithm
from .vectorize import VectorizeRoadsAlgorithm

__all__ = [
    "AdaptModelAlgorithm",
    "SegmentRoadsAlgorithm",
    "TrainModelAlgorithm",
    "VectorizeRoadsAlgorithm",
]
