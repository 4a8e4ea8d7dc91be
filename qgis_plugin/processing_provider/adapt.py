"""Processing ▸ roadseg ▸ Adapt model: imagery + roads you have → a model fitted to your area.

Also the Processing form of *Retrain from corrections*: give the edited centreline
layer as the roads and the checked polygons (or an extent) as the area. An XYZ, WMS,
WMTS or virtual raster layer is rendered over the area (else around the roads) at the
starting model's resolution into a temporary GeoTIFF, as the dialogs do (``gui.render``).
"""

from __future__ import annotations

import datetime as _dt
import shutil
import tempfile
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsGeometry,
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsRasterLayer,
    QgsVectorFileWriter,
    QgsVectorLayer,
)

from ..core.adapt import (
    DEFAULT_MINUTES,
    AdaptOutcome,
    AdaptParameters,
    AdaptProgress,
    adapt_argv,
)
from ..core.adapted import AdaptedModel, unique_model_name
from ..core.commands import model_info_argv, models_argv
from ..core.engine import supports_option
from ..core.errors import PluginError
from ..core.estimate import estimate
from ..core.i18n import tr
from ..core.outputs import unique_name
from ..core.params import model_label, safe_name
from ..gui import prefs
from ..gui.adapt_inputs import labels_area
from ..gui.area import area_to_map
from ..gui.model_info import model_gsd, models_from_json
from ..gui.render import RenderJob, needs_render
from .base import MODEL_FILTER, RoadsegAlgorithm, engine_argv, run_cli
from .rendering import plan_layer_render, raster_input, run_rendered

#: ``roadseg adapt --device`` values offered (the engine adapts on a CPU or a CUDA GPU).
ADAPT_DEVICES = ("auto", "cpu", "cuda")


class AdaptModelAlgorithm(RoadsegAlgorithm):
    """Raster + road layer (+ class field, area, minutes) → adapted model file, before → after."""

    INPUT, LABELS, CLASS_FIELD, AREA, EXTENT = "INPUT", "LABELS", "CLASS_FIELD", "AREA", "EXTENT"
    MODEL, MINUTES, STEPS, DEVICE = "MODEL", "MINUTES", "STEPS", "DEVICE"
    NAME, REGISTER, OUTPUT, MIN_GAIN = "NAME", "REGISTER", "OUTPUT", "MIN_GAIN"

    def name(self) -> str:
        """Return the algorithm id within the provider."""
        return "adaptmodel"

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        """Return the name shown in the toolbox."""
        return tr("Adapt model")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        """Return the help shown beside the parameters."""
        return tr(
            "Fine-tunes a road model to your imagery from roads you already have (OpenStreetMap "
            "highway lines, a municipal road layer, or the corrected centrelines of a Segment "
            "roads / Map roads run) within a time budget, and reports the road IoU of the "
            "starting and the adapted model on held-out roads. Inside the area the road layer "
            "must hold every road (elsewhere nothing is learnt); without an area or extent the "
            "roads' outline is used. The adapted model is kept only when it is better; it is "
            "then listed, named, in the Map roads dialog. An XYZ, WMS, WMTS or virtual layer is "
            "rendered over the area (else around the roads) at the starting model's resolution "
            "first. Runs `roadseg adapt`."
        )

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 - QGIS API
        """Declare parameters and outputs."""
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, tr("Imagery")))
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.LABELS,
                tr("Roads you have"),
                [
                    QgsProcessing.SourceType.TypeVectorLine,
                    QgsProcessing.SourceType.TypeVectorPolygon,
                ],
            )
        )
        self.addParameter(
            QgsProcessingParameterField(
                self.CLASS_FIELD,
                tr("Class field (OSM highway and major/minor/track are recognised)"),
                parentLayerParameterName=self.LABELS,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                self.AREA,
                tr("Roads are complete in these polygons"),
                [QgsProcessing.SourceType.TypeVectorPolygon],
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterExtent(
                self.EXTENT, tr("…or in this extent (when no polygons)"), optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.MODEL,
                tr("Start from this model file (empty: the embedded default model)"),
                optional=True,
                fileFilter=MODEL_FILTER,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.MINUTES,
                tr("Minutes"),
                QgsProcessingParameterNumber.Type.Double,
                DEFAULT_MINUTES,
                False,
                0.1,
                24 * 60.0,
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                self.NAME, tr("New model's name (empty: after the imagery)"), optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.REGISTER, tr("List the new model in the Map roads dialog"), True, True
            )
        )
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.OUTPUT,
                tr("Model file (empty: in the QGIS profile's roadseg/models)"),
                tr("roadseg model (*.safetensors)"),
                optional=True,
                createByDefault=False,
            )
        )
        advanced = [
            QgsProcessingParameterNumber(
                self.STEPS,
                tr("Training steps instead of minutes (0 = use the minutes)"),
                QgsProcessingParameterNumber.Type.Integer,
                0,
                True,
                0,
            ),
            QgsProcessingParameterEnum(
                self.DEVICE, tr("Device"), options=list(ADAPT_DEVICES), defaultValue=0
            ),
            QgsProcessingParameterNumber(
                self.MIN_GAIN,
                tr("Keep the adapted model only if its road IoU gains at least"),
                QgsProcessingParameterNumber.Type.Double,
                0.005,
                True,
                0.0,
                1.0,
            ),
        ]
        for param in advanced:
            param.setFlags(param.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
            self.addParameter(param)
        self.addOutput(QgsProcessingOutputFile("MODEL", tr("Model file")))
        self.addOutput(
            QgsProcessingOutputString("KEPT", tr("Kept model (adapted, threshold or starting)"))
        )
        self.addOutput(QgsProcessingOutputNumber("ROAD_IOU_BEFORE", tr("Road IoU before")))
        self.addOutput(QgsProcessingOutputNumber("ROAD_IOU_AFTER", tr("Road IoU after")))

    def _source_file(
        self,
        parameters: dict,
        name: str,
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
        folder: Path,
    ) -> str:
        """The feature source as one GeoPackage the engine reads (selection and edits honoured)."""
        source = self.parameterAsSource(parameters, name, context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, name))
        layer = QgsVectorLayer(
            f"{_geometry_name(source.wkbType())}?crs={source.sourceCrs().authid()}", name, "memory"
        )
        if not layer.crs().isValid():
            layer.setCrs(source.sourceCrs())
        layer.dataProvider().addAttributes(source.fields().toList())
        layer.updateFields()
        feats = [f for f in source.getFeatures() if f.hasGeometry()]
        if not feats:
            raise QgsProcessingException(
                tr("The layer of parameter {name} has no features.").format(name=repr(name))
            )
        layer.dataProvider().addFeatures(feats)
        path = folder / f"{name.lower()}.gpkg"
        options = QgsVectorFileWriter.SaveVectorOptions()
        options.driverName = "GPKG"
        options.layerName = name.lower()
        err = QgsVectorFileWriter.writeAsVectorFormatV3(
            layer, str(path), context.transformContext(), options
        )
        if err[0] != QgsVectorFileWriter.WriterError.NoError:
            raise QgsProcessingException(str(err[1]))
        return str(path)

    def _extent_file(
        self, parameters: dict, context: QgsProcessingContext, folder: Path, crs: Any
    ) -> str:
        rect = self.parameterAsExtent(parameters, self.EXTENT, context, crs)
        layer = QgsVectorLayer(f"Polygon?crs={crs.authid()}", "area", "memory")
        if not layer.crs().isValid():
            layer.setCrs(crs)
        f = QgsFeature()
        f.setGeometry(QgsGeometry.fromRect(rect))
        layer.dataProvider().addFeatures([f])
        path = folder / "extent.gpkg"
        options = QgsVectorFileWriter.SaveVectorOptions()
        options.driverName = "GPKG"
        QgsVectorFileWriter.writeAsVectorFormatV3(
            layer, str(path), context.transformContext(), options
        )
        return str(path)

    def _plan_render(
        self,
        layer: QgsRasterLayer,
        engine: tuple[str, ...],
        start: str,
        labels: str,
        area: str | None,
        context: QgsProcessingContext,
        feedback: QgsProcessingFeedback,
    ) -> RenderJob:
        """Plan rendering a web or virtual layer over the area at the starting model's GSD."""
        argv = models_argv(engine) if start == "default" else model_info_argv(engine, start)
        gsd = model_gsd(models_from_json(run_cli(argv, None)), start)
        transforms = context.transformContext()
        try:
            if area:
                polygons = QgsVectorLayer(area, "area", "ogr")
                region = area_to_map(
                    "polygons", layer, None, polygons, transform_context=transforms
                )
            else:
                region = labels_area(QgsVectorLayer(labels, "roads", "ogr"), layer, transforms)
        except PluginError as exc:
            raise QgsProcessingException(exc.message) from None
        est = estimate(region.area_m2, gsd, "cpu", limit_km2=prefs.limit_km2())
        if est.over_limit:
            raise QgsProcessingException(est.limit_message())
        fix = tr("save the layer as a GeoTIFF and use that")
        return plan_layer_render(layer, region, gsd, model_label(start), fix, context, feedback)

    def _min_gain(self, parameters: dict, context: QgsProcessingContext) -> float | None:
        if parameters.get(self.MIN_GAIN) in (None, ""):
            return None
        return self.parameterAsDouble(parameters, self.MIN_GAIN, context)

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        """Export the roads and the area, run the engine, list the model, return the figures."""
        layer = raster_input(self, parameters, self.INPUT, context)
        engine = engine_argv()
        work = Path(tempfile.mkdtemp(prefix="roadseg-adapt-"))
        render: RenderJob | None = None
        try:
            labels = self._source_file(parameters, self.LABELS, context, feedback, work)
            area: str | None = None
            if parameters.get(self.AREA) not in (None, ""):
                area = self._source_file(parameters, self.AREA, context, feedback, work)
            elif parameters.get(self.EXTENT) not in (None, ""):
                crs = layer.crs() if layer.crs().isValid() else QgsCoordinateReferenceSystem()
                area = self._extent_file(parameters, context, work, crs)
            taken = {m.name for m in prefs.adapted_models()}
            name = self.parameterAsString(parameters, self.NAME, context).strip()
            name = name or unique_model_name(
                tr("{raster} adapted").format(raster=layer.name()), taken
            )
            out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
            in_profile = not out
            if in_profile:
                folder = prefs.models_dir()
                folder.mkdir(parents=True, exist_ok=True)
                stem = unique_name(folder, safe_name(name, "model"), ".safetensors")
                out = str(folder / f"{stem}.safetensors")
            start = self.parameterAsFile(parameters, self.MODEL, context) or "default"
            raster_path = layer.source().split("|", 1)[0]
            if needs_render(layer):
                render = self._plan_render(layer, engine, start, labels, area, context, feedback)
                raster_path = str(render.path)
            try:
                params = AdaptParameters(
                    raster_path=raster_path,
                    raster_name=layer.name(),
                    labels_path=labels,
                    out_path=out,
                    name=name,
                    class_field=self.parameterAsString(parameters, self.CLASS_FIELD, context),
                    area_path=area,
                    model=start,
                    model_label=model_label(start),
                    minutes=self.parameterAsDouble(parameters, self.MINUTES, context),
                    steps=self.parameterAsInt(parameters, self.STEPS, context) or None,
                    device=ADAPT_DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
                    min_gain=self._min_gain(parameters, context),
                    # A file chosen in Processing: QGIS asked before replacing it.
                    overwrite=not in_profile and supports_option(engine, "adapt", "--overwrite"),
                )
            except PluginError as exc:
                raise QgsProcessingException(exc.message) from None
            outcome = AdaptOutcome.from_json(
                run_rendered(render, adapt_argv(engine, params), feedback, mapper=AdaptProgress())
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        feedback.pushInfo(outcome.message(params.name, params.model_label))
        model = outcome.model_path or params.out_path
        if not outcome.adapted and in_profile:  # a copy of the starting model: use that one
            Path(model).unlink(missing_ok=True)
            model = params.model
        if outcome.adapted and self.parameterAsBool(parameters, self.REGISTER, context):
            prefs.add_adapted_model(
                AdaptedModel(
                    name=params.name,
                    path=model,
                    parent=params.model,
                    raster=params.raster_name,
                    before=outcome.before,
                    after=outcome.after,
                    created=_dt.datetime.now().isoformat(timespec="seconds"),
                )
            )
        return {
            "MODEL": model,
            "KEPT": outcome.kept,
            "ROAD_IOU_BEFORE": outcome.before,
            "ROAD_IOU_AFTER": outcome.after,
        }


def _geometry_name(wkb_type: Any) -> str:
    from qgis.core import QgsWkbTypes

    return str(QgsWkbTypes.displayString(wkb_type)) or "LineString"
