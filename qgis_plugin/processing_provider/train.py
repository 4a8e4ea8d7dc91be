"""Processing ▸ roadseg ▸ Train road model: raster + road labels → a model file."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFile,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
)

from ..core.commands import train_argv
from ..core.i18n import tr
from ..core.params import DEVICES
from .base import MODEL_FILTER, RoadsegAlgorithm, engine_argv, gpkg_layers, raster_file, run_cli


class TrainModelAlgorithm(RoadsegAlgorithm):
    """Raster layer + vector road labels + class field → model file."""

    INPUT, LABELS, CLASS_FIELD, EPOCHS = "INPUT", "LABELS", "CLASS_FIELD", "EPOCHS"
    DEVICE, CONFIG, OUTPUT = "DEVICE", "CONFIG", "OUTPUT"
    TILE, BATCH, SAMPLES, INIT_FROM = "TILE", "BATCH_SIZE", "SAMPLES_PER_EPOCH", "INIT_FROM"

    def name(self) -> str:
        """Return the algorithm id within the provider."""
        return "trainmodel"

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        """Return the name shown in the toolbox."""
        return tr("Train road model")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        """Return the help shown beside the parameters."""
        return tr(
            "Trains a roadseg model from a raster and a vector layer of road lines or polygons "
            "(classes from a field), streaming windows from the raster. Writes a run folder with "
            "the model file. Runs `roadseg train`."
        )

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 - QGIS API
        """Declare parameters and outputs."""
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, tr("Raster layer")))
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.LABELS,
                tr("Road labels"),
                [
                    QgsProcessing.SourceType.TypeVectorLine,
                    QgsProcessing.SourceType.TypeVectorPolygon,
                ],
            )
        )
        self.addParameter(
            QgsProcessingParameterField(
                self.CLASS_FIELD,
                tr("Class field"),
                parentLayerParameterName=self.LABELS,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.EPOCHS,
                tr("Epochs (0 = engine default)"),
                QgsProcessingParameterNumber.Type.Integer,
                0,
                True,
                0,
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.DEVICE, tr("Device"), options=list(DEVICES), defaultValue=0, optional=True
            )
        )
        for key, label in (
            (self.TILE, tr("Window size in px (0 = engine default)")),
            (self.BATCH, tr("Batch size (0 = engine default)")),
            (self.SAMPLES, tr("Training windows per epoch (0 = engine default)")),
        ):
            self.addParameter(
                QgsProcessingParameterNumber(
                    key, label, QgsProcessingParameterNumber.Type.Integer, 0, True, 0
                )
            )
        self.addParameter(
            QgsProcessingParameterFile(
                self.INIT_FROM,
                tr("Fine-tune this model file (optional)"),
                optional=True,
                fileFilter=MODEL_FILTER,
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.CONFIG,
                tr("Training configuration (YAML)"),
                optional=True,
                fileFilter=tr("YAML (*.yaml *.yml)"),
            )
        )
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT, tr("Run folder")))
        self.addOutput(QgsProcessingOutputFile("MODEL", tr("Model file")))

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        """Run the engine and return the outputs."""
        layer = raster_file(self, parameters, self.INPUT, context)
        labels, layer_name = self.parameterAsCompatibleSourceLayerPathAndLayerName(
            parameters, self.LABELS, context, ["gpkg", "shp", "geojson", "json"], "gpkg", feedback
        )
        if layer_name and len(gpkg_layers(labels)) > 1:
            # A multi-layer file: export the chosen layer so the engine reads the right one.
            labels = self.parameterAsCompatibleSourceLayerPath(
                parameters, self.LABELS, context, ["geojson"], "geojson", feedback
            )
        out_dir = self.parameterAsString(parameters, self.OUTPUT, context)
        extra: list[str] = []
        for key, option in (
            (self.TILE, "--tile"),
            (self.BATCH, "--batch-size"),
            (self.SAMPLES, "--samples-per-epoch"),
        ):
            value = self.parameterAsInt(parameters, key, context)
            if value:
                extra += [option, str(value)]
        init_from = self.parameterAsFile(parameters, self.INIT_FROM, context)
        if init_from:
            extra += ["--init-from", init_from]
        argv = train_argv(
            engine_argv(),
            layer.source(),
            labels,
            out_dir,
            class_field=self.parameterAsString(parameters, self.CLASS_FIELD, context) or None,
            epochs=self.parameterAsInt(parameters, self.EPOCHS, context) or None,
            device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
            config=self.parameterAsFile(parameters, self.CONFIG, context) or None,
            extra=extra,
        )
        result = run_cli(argv, feedback)
        model = result.get("model") or (result.get("outputs") or {}).get("model")
        if not model:
            raise QgsProcessingException(
                tr("roadseg train reported no model file in its JSON result.")
            )
        return {self.OUTPUT: out_dir, "MODEL": str(model)}
