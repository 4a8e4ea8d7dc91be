"""Processing ▸ roadseg ▸ Vectorise road raster: class raster → road polygons and centrelines."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterRasterLayer,
)

from ..core.commands import vectorize_argv
from ..core.engine import supports_option
from ..core.i18n import tr
from .base import RoadsegAlgorithm, engine_argv, gpkg_layers, raster_file, run_cli
from .loading import load_on_completion, scheme_from_outputs


class VectorizeRoadsAlgorithm(RoadsegAlgorithm):
    """Class raster → GeoPackage of road polygons and centrelines."""

    INPUT, OUTPUT, LOAD = "INPUT", "OUTPUT", "LOAD_LAYERS"

    def name(self) -> str:
        """Return the algorithm id within the provider."""
        return "vectorizeroads"

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        """Return the name shown in the toolbox."""
        return tr("Vectorise road raster")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        """Return the help shown beside the parameters."""
        return tr(
            "Turns a roadseg class raster (uint8: 0 background, 1.. road classes, 255 nodata) "
            "into road polygons per class and a connected centreline network with class, width "
            "and length attributes. Runs `roadseg vectorize`."
        )

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 - QGIS API
        """Declare parameters and outputs."""
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, tr("Road class raster")))
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.OUTPUT, tr("Road layers"), tr("GeoPackage (*.gpkg)")
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.LOAD, tr("Add the styled road layers to the project"), True, True
            )
        )
        self.addOutput(QgsProcessingOutputMultipleLayers("LAYERS", tr("Road layers")))
        self.addOutput(QgsProcessingOutputVectorLayer("CENTERLINES", tr("Centrelines")))

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        """Run the engine and return (and load) the outputs."""
        layer = raster_file(self, parameters, self.INPUT, context)
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        engine = engine_argv()
        source = layer.source().split("|", 1)[0]
        overwrite = supports_option(engine, "vectorize", "--overwrite")
        run_cli(vectorize_argv(engine, source, out, overwrite=overwrite), feedback, vectorize=True)
        if self.parameterAsBool(parameters, self.LOAD, context):
            stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
            group = tr("Roads {raster} (vectorised) {stamp}").format(
                raster=layer.name(), stamp=stamp
            )
            load_on_completion(context, out, scheme_from_outputs(out, source), self.OUTPUT, group)
        return {
            self.OUTPUT: out,
            "LAYERS": gpkg_layers(out),
            "CENTERLINES": f"{out}|layername=centerlines",
        }
