"""Processing algorithms: each runs one ``roadseg`` command as a subprocess.

They work from the toolbox, in batch mode and in the Model Builder; the engine's
JSON progress drives the feedback's progress bar and cancel stops the engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFile,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputNumber,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProviderRegistry,
    QgsRasterLayer,
)

from ..core.commands import display, predict_argv, train_argv, vectorize_argv
from ..core.engine import engine_env
from ..core.errors import PluginError
from ..core.params import DEVICES, Outputs, RunParameters
from ..core.process import run_engine
from ..core.protocol import ProgressMapper, road_km
from .loading import load_on_completion, scheme_from_outputs

MODEL_FILTER = "roadseg model (*.safetensors *.pt *.pth *.roadseg);;All files (*)"


def engine_argv() -> tuple[str, ...]:
    """Return the engine command, or a Processing error saying how to install it."""
    from ..gui.settings import current_engine

    try:
        return current_engine().argv
    except PluginError as exc:
        raise QgsProcessingException(exc.message) from None


def run_cli(
    argv: list[str], feedback: QgsProcessingFeedback, vectorize: bool = False
) -> dict[str, Any]:
    """Run an engine command with progress and cancel; return its JSON result."""
    feedback = feedback or QgsProcessingFeedback()
    mapper = ProgressMapper(vectorize=vectorize)
    feedback.pushCommandInfo(display(argv))

    def progress(line: Any) -> None:
        feedback.setProgress(mapper.percent(line))
        if line.message:
            feedback.setProgressText(f"{line.stage}: {line.message}")

    try:
        res = run_engine(
            argv,
            env=engine_env(),
            on_progress=progress,
            on_log=feedback.pushConsoleInfo,
            is_cancelled=feedback.isCanceled,
        )
    except PluginError as exc:
        raise QgsProcessingException(exc.message) from None
    if res.cancelled:
        raise QgsProcessingException("Cancelled: the engine was stopped and wrote no output.")
    if not res.ok:
        feedback.reportError(res.details(), False)
        raise QgsProcessingException(res.message())
    feedback.setProgress(100)
    assert res.result is not None
    return res.result


def gpkg_layers(path: str) -> list[str]:
    """``path|layername=…`` URIs of a GeoPackage's layers."""
    md = QgsProviderRegistry.instance().providerMetadata("ogr")
    return [f"{path}|layername={s.name()}" for s in md.querySublayers(path)]


def raster_file(
    alg: QgsProcessingAlgorithm, parameters: dict, name: str, context: QgsProcessingContext
) -> QgsRasterLayer:
    """Return the raster parameter as a GDAL layer on disk (or a clear error)."""
    layer = alg.parameterAsRasterLayer(parameters, name, context)
    if layer is None:
        raise QgsProcessingException(alg.invalidRasterError(parameters, name))
    if layer.providerType() != "gdal" or not Path(layer.source()).is_file():
        raise QgsProcessingException(
            f"The layer {layer.name()!r} is not a raster file on disk: save it as a GeoTIFF first."
        )
    return layer


class _Base(QgsProcessingAlgorithm):
    def group(self) -> str:
        """No group: the algorithms sit directly under the provider."""
        return ""

    def groupId(self) -> str:  # noqa: N802 - QGIS API
        """No group id."""
        return ""

    def createInstance(self) -> QgsProcessingAlgorithm:  # noqa: N802 - QGIS API
        """Return a new instance (Processing clones algorithms)."""
        return type(self)()


class SegmentRoadsAlgorithm(_Base):
    """Raster layer + extent → class raster and GeoPackage of road layers."""

    INPUT, EXTENT, MODEL, DEVICE = "INPUT", "EXTENT", "MODEL", "DEVICE"
    TILE, OVERLAP, BATCH = "TILE", "OVERLAP", "BATCH_SIZE"
    OUTPUT_RASTER, OUTPUT_VECTORS = "OUTPUT_RASTER", "OUTPUT_VECTORS"
    LOAD = "LOAD_LAYERS"

    def name(self) -> str:
        """Return the algorithm id within the provider."""
        return "segmentroads"

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        """Return the name shown in the toolbox."""
        return "Segment roads"

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        """Return the help shown beside the parameters."""
        return (
            "Finds roads in a raster with a roadseg model (the embedded default or a model file) "
            "and writes a class raster plus a GeoPackage with one polygon layer per road class and "
            "a centreline layer. Runs `roadseg predict` as a subprocess."
        )

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 - QGIS API
        """Declare parameters and outputs."""
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Raster layer"))
        self.addParameter(
            QgsProcessingParameterExtent(
                self.EXTENT, "Area (default: the whole raster)", optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.MODEL,
                "Model file (default: embedded model)",
                optional=True,
                fileFilter=MODEL_FILTER,
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.DEVICE, "Device", options=list(DEVICES), defaultValue=0, optional=True
            )
        )
        for key, label, default, minimum in (
            (self.TILE, "Tile size in px (0 = model default)", 0, 0),
            (self.OVERLAP, "Tile overlap in px (-1 = automatic)", -1, -1),
            (self.BATCH, "Batch size (0 = automatic)", 0, 0),
        ):
            self.addParameter(
                QgsProcessingParameterNumber(
                    key, label, QgsProcessingParameterNumber.Integer, default, True, minimum
                )
            )
        self.addParameter(
            QgsProcessingParameterRasterDestination(self.OUTPUT_RASTER, "Class raster")
        )
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.OUTPUT_VECTORS, "Road layers", "GeoPackage (*.gpkg)"
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.LOAD, "Add the styled road layers to the project", True, True
            )
        )
        self.addOutput(
            QgsProcessingOutputMultipleLayers(
                "LAYERS", "Road layers (polygons per class, centrelines)"
            )
        )
        self.addOutput(QgsProcessingOutputVectorLayer("CENTERLINES", "Centrelines"))
        self.addOutput(QgsProcessingOutputNumber("ROAD_KM", "Total centreline length (km)"))

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        """Run the engine and return the outputs."""
        layer = raster_file(self, parameters, self.INPUT, context)
        if not layer.dataProvider().crs().isValid():
            raise QgsProcessingException(
                f"The raster {layer.name()!r} has no CRS: georeference it first."
            )
        crs = layer.crs()
        extent = layer.extent()
        if parameters.get(self.EXTENT) not in (None, ""):
            area = self.parameterAsExtent(parameters, self.EXTENT, context, crs)
            extent = area.intersect(layer.extent())
            if extent.isEmpty() or extent.width() <= 0 or extent.height() <= 0:
                raise QgsProcessingException(
                    f"The area does not overlap the raster {layer.name()!r}."
                )
        out_raster = self.parameterAsOutputLayer(parameters, self.OUTPUT_RASTER, context)
        out_vectors = self.parameterAsFileOutput(parameters, self.OUTPUT_VECTORS, context)
        model = self.parameterAsFile(parameters, self.MODEL, context) or None
        overlap = self.parameterAsInt(parameters, self.OVERLAP, context)
        try:
            params = RunParameters(
                raster_path=layer.source(),
                raster_name=layer.name(),
                bbox=(extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()),
                bbox_crs=crs.authid() or crs.toWkt(),
                output_dir=str(Path(out_vectors).parent),
                outputs=Outputs(True, True, True),
                model=model,
                device=DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
                tile=self.parameterAsInt(parameters, self.TILE, context) or None,
                overlap=None if overlap < 0 else overlap,
                batch_size=self.parameterAsInt(parameters, self.BATCH, context) or None,
                area_mode="layer",
            )
        except PluginError as exc:
            raise QgsProcessingException(exc.message) from None
        result = run_cli(
            predict_argv(engine_argv(), params, out_raster, out_vectors), feedback, vectorize=True
        )
        layers = gpkg_layers(out_vectors)
        km = road_km(result)
        if self.parameterAsBool(parameters, self.LOAD, context):
            scheme = scheme_from_outputs(out_vectors, out_raster)
            load_on_completion(context, out_vectors, scheme, self.OUTPUT_VECTORS)
        return {
            self.OUTPUT_RASTER: out_raster,
            self.OUTPUT_VECTORS: out_vectors,
            "LAYERS": layers,
            "CENTERLINES": f"{out_vectors}|layername=centerlines",
            "ROAD_KM": km if km is not None else 0.0,
        }


class VectorizeRoadsAlgorithm(_Base):
    """Class raster → GeoPackage of road polygons and centrelines."""

    INPUT, OUTPUT, LOAD = "INPUT", "OUTPUT", "LOAD_LAYERS"

    def name(self) -> str:
        """Return the algorithm id within the provider."""
        return "vectorizeroads"

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        """Return the name shown in the toolbox."""
        return "Vectorise road raster"

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        """Return the help shown beside the parameters."""
        return (
            "Turns a roadseg class raster (uint8: 0 background, 1.. road classes, 255 nodata) into "
            "road polygons per class and a connected centreline network. Runs `roadseg vectorize`."
        )

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 - QGIS API
        """Declare parameters and outputs."""
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Road class raster"))
        self.addParameter(
            QgsProcessingParameterFileDestination(self.OUTPUT, "Road layers", "GeoPackage (*.gpkg)")
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.LOAD, "Add the styled road layers to the project", True, True
            )
        )
        self.addOutput(QgsProcessingOutputMultipleLayers("LAYERS", "Road layers"))
        self.addOutput(QgsProcessingOutputVectorLayer("CENTERLINES", "Centrelines"))

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        """Run the engine and return the outputs."""
        layer = raster_file(self, parameters, self.INPUT, context)
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        run_cli(vectorize_argv(engine_argv(), layer.source(), out), feedback, vectorize=True)
        if self.parameterAsBool(parameters, self.LOAD, context):
            scheme = scheme_from_outputs(out, layer.source())
            load_on_completion(context, out, scheme, self.OUTPUT)
        return {
            self.OUTPUT: out,
            "LAYERS": gpkg_layers(out),
            "CENTERLINES": f"{out}|layername=centerlines",
        }


class TrainModelAlgorithm(_Base):
    """Raster layer + vector road labels + class field → model file."""

    INPUT, LABELS, CLASS_FIELD, EPOCHS = "INPUT", "LABELS", "CLASS_FIELD", "EPOCHS"
    DEVICE, CONFIG, OUTPUT = "DEVICE", "CONFIG", "OUTPUT"
    TILE, BATCH, SAMPLES, INIT_FROM = "TILE", "BATCH_SIZE", "SAMPLES_PER_EPOCH", "INIT_FROM"

    def name(self) -> str:
        """Return the algorithm id within the provider."""
        return "trainmodel"

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        """Return the name shown in the toolbox."""
        return "Train road model"

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        """Return the help shown beside the parameters."""
        return (
            "Trains a roadseg model from a raster and a vector layer of road lines or polygons "
            "(classes from a field), streaming windows from the raster. Writes a run folder with "
            "the model file. Runs `roadseg train`."
        )

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 - QGIS API
        """Declare parameters and outputs."""
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Raster layer"))
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.LABELS,
                "Road labels",
                [QgsProcessing.TypeVectorLine, QgsProcessing.TypeVectorPolygon],
            )
        )
        self.addParameter(
            QgsProcessingParameterField(
                self.CLASS_FIELD, "Class field", parentLayerParameterName=self.LABELS, optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.EPOCHS,
                "Epochs (0 = engine default)",
                QgsProcessingParameterNumber.Integer,
                0,
                True,
                0,
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.DEVICE, "Device", options=list(DEVICES), defaultValue=0, optional=True
            )
        )
        for key, label in (
            (self.TILE, "Window size in px (0 = engine default)"),
            (self.BATCH, "Batch size (0 = engine default)"),
            (self.SAMPLES, "Training windows per epoch (0 = engine default)"),
        ):
            self.addParameter(
                QgsProcessingParameterNumber(
                    key, label, QgsProcessingParameterNumber.Integer, 0, True, 0
                )
            )
        self.addParameter(
            QgsProcessingParameterFile(
                self.INIT_FROM,
                "Fine-tune this model file (optional)",
                optional=True,
                fileFilter=MODEL_FILTER,
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.CONFIG,
                "Training configuration (YAML)",
                optional=True,
                fileFilter="YAML (*.yaml *.yml)",
            )
        )
        self.addParameter(QgsProcessingParameterFolderDestination(self.OUTPUT, "Run folder"))
        self.addOutput(QgsProcessingOutputFile("MODEL", "Model file"))

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
            raise QgsProcessingException("roadseg train reported no model file in its JSON result.")
        return {self.OUTPUT: out_dir, "MODEL": str(model)}
