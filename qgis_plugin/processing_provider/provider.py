"""The ``roadseg`` Processing provider."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from ..core.i18n import tr
from .algorithms import (
    AdaptModelAlgorithm,
    CheckFitAlgorithm,
    SegmentRoadsAlgorithm,
    TrainModelAlgorithm,
    VectorizeRoadsAlgorithm,
)


class RoadsegProvider(QgsProcessingProvider):
    """Segment roads, Vectorise road raster, Train road model, Adapt model, Check model fit."""

    def __init__(self, icon_path: str | Path | None = None) -> None:
        super().__init__()
        self._icon_path = str(icon_path) if icon_path else ""

    def id(self) -> str:  # noqa: A003 - QGIS API
        """Return the provider id (algorithm ids are ``roadseg:<name>``)."""
        return "roadseg"

    def name(self) -> str:
        """Name in the toolbox."""
        return "roadseg"

    def longName(self) -> str:  # noqa: N802 - QGIS API
        """Long name."""
        return tr("roadseg — road mapping from imagery")

    def icon(self) -> QIcon:
        """Return the provider icon."""
        return QIcon(self._icon_path) if self._icon_path else super().icon()

    def loadAlgorithms(self) -> None:  # noqa: N802 - QGIS API
        """Register the algorithms."""
        for alg in (
            SegmentRoadsAlgorithm(),
            VectorizeRoadsAlgorithm(),
            TrainModelAlgorithm(),
            AdaptModelAlgorithm(),
            CheckFitAlgorithm(),
        ):
            self.addAlgorithm(alg)
