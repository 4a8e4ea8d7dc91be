"""Processing ▸ roadseg ▸ Check model fit: how sure a model is of a raster, from a few windows."""

from __future__ import annotations

import tempfile
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterNumber,
)

from ..core.commands import check_fit_argv
from ..core.errors import PluginError
from ..core.i18n import tr
from ..core.params import RunParameters
from ..core.protocol import fit_summary
from ..gui.area import crs_argument, rect_bbox
from ..gui.rasters import unusable_reason
from .base import engine_argv, run_cli
from .rendering import raster_input
from .segment import SegmentRoadsAlgorithm


class CheckFitAlgorithm(SegmentRoadsAlgorithm):
    """Raster layer + area + model → good / fair / poor (``roadseg check-fit``)."""

    SAMPLES, SAMPLE_M = "SAMPLES", "SAMPLE_M"

    def name(self) -> str:
        """Return the algorithm id within the provider."""
        return "checkfit"

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        """Return the name shown in the toolbox."""
        return tr("Check model fit")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        """Return the help shown beside the parameters."""
        return tr(
            "Says how sure a roadseg model is of a raster's imagery before a long run: it "
            "predicts a few windows spread over the area, exactly as Segment roads would with "
            "the same parameters, and rates the share of road-like pixels the model is unsure "
            "of (good under 30 %, poor from 60 %). Poor means missed and false roads: adapt the "
            "model to roads you have first (Adapt model). Writes nothing; in batch mode it "
            "rates many rasters. Takes raster files (web and virtual layers are rendered by "
            "Segment roads only). Runs `roadseg check-fit` as a subprocess."
        )

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 - QGIS API
        """Declare parameters and outputs."""
        self.add_imagery_parameters()
        self.addParameter(
            QgsProcessingParameterNumber(
                self.SAMPLES,
                tr("Windows to predict"),
                QgsProcessingParameterNumber.Type.Integer,
                8,
                False,
                1,
                64,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.SAMPLE_M,
                tr("Window side in metres"),
                QgsProcessingParameterNumber.Type.Double,
                256.0,
                False,
                32.0,
                4096.0,
            )
        )
        self.addOutput(QgsProcessingOutputString("RATING", tr("Rating (good, fair, poor)")))
        self.addOutput(
            QgsProcessingOutputNumber(
                "UNSURE_SHARE", tr("Share of road-like pixels unsure (-1: no road-like pixel)")
            )
        )
        self.addOutput(QgsProcessingOutputNumber("SAMPLED_KM2", tr("Ground sampled (km²)")))
        self.addOutput(QgsProcessingOutputNumber("AREA_KM2", tr("Area (km²)")))

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        """Check the inputs, run ``roadseg check-fit``, return its rating."""
        layer = raster_input(self, parameters, self.INPUT, context)
        reason = unusable_reason(layer)
        if reason:
            raise QgsProcessingException(reason)
        if not layer.dataProvider().crs().isValid():
            raise QgsProcessingException(
                tr("The raster {name} has no CRS: georeference it first.").format(
                    name=repr(layer.name())
                )
            )
        extent = self._extent(layer, parameters, context)
        options = self.network_options(parameters, context)
        engine = engine_argv()
        info = self._model_info(engine, options["model"], feedback)
        try:
            params = RunParameters(
                raster_path=layer.source().split("|", 1)[0],
                raster_name=layer.name(),
                bbox=rect_bbox(extent),
                bbox_crs=crs_argument(layer.crs()),
                output_dir=tempfile.gettempdir(),  # required of a run; a check writes nothing
                working_gsd=self.working_gsd(parameters, context, info),
                area_mode="layer",
                **options,
            )
        except PluginError as exc:
            raise QgsProcessingException(exc.message) from None
        argv = check_fit_argv(
            engine,
            params,
            samples=self.parameterAsInt(parameters, self.SAMPLES, context),
            sample_m=self.parameterAsDouble(parameters, self.SAMPLE_M, context),
        )
        result = run_cli(argv, feedback)
        rating, line = fit_summary(result)
        if rating == "poor":
            feedback.pushWarning(line)
        else:
            feedback.pushInfo(line)
        item = (result.get("rasters") or [{}])[0]
        sure = item.get("confidence") or {}
        share = sure.get("unsure_share")
        return {
            "RATING": rating,
            "UNSURE_SHARE": float(share) if isinstance(share, int | float) else -1.0,
            "SAMPLED_KM2": float(item.get("sampled_km2") or 0.0),
            "AREA_KM2": float(item.get("area_km2") or 0.0),
        }
