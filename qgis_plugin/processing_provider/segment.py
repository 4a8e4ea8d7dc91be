"""Processing ▸ roadseg ▸ Segment roads: raster + area → class raster and road layers."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from qgis.core import (
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputNumber,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsRasterLayer,
    QgsRectangle,
)

from ..core.commands import model_info_argv, predict_argv
from ..core.engine import engine_env, supports_option
from ..core.errors import PluginError
from ..core.estimate import estimate
from ..core.i18n import tr
from ..core.params import (
    DEVICES,
    Outputs,
    RunParameters,
    default_run_name,
    model_label,
    working_gsd_problem,
)
from ..core.process import run_engine
from ..core.protocol import road_km, unsure_note
from ..gui import prefs
from ..gui.area import Area, crs_argument, measure_area, rect_bbox
from ..gui.rasters import unusable_reason
from ..gui.render import RenderJob, is_web, needs_render
from .base import MODEL_FILTER, RoadsegAlgorithm, engine_argv, gpkg_layers
from .loading import load_on_completion, scheme_from_outputs, style_raster_on_completion
from .rendering import plan_layer_render, raster_input, run_rendered


class SegmentRoadsAlgorithm(RoadsegAlgorithm):
    """Raster layer + extent → class raster and GeoPackage of road layers."""

    INPUT, EXTENT, MODEL, DEVICE = "INPUT", "EXTENT", "MODEL", "DEVICE"
    TILE, OVERLAP, BATCH = "TILE", "OVERLAP", "BATCH_SIZE"
    WORKING_GSD = "WORKING_GSD"
    ROAD_THRESHOLD = "ROAD_THRESHOLD"
    MAX_AREA = "MAX_AREA_KM2"
    OUTPUT_RASTER, OUTPUT_VECTORS = "OUTPUT_RASTER", "OUTPUT_VECTORS"
    LOAD = "LOAD_LAYERS"

    def name(self) -> str:
        """Return the algorithm id within the provider."""
        return "segmentroads"

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        """Return the name shown in the toolbox."""
        return tr("Segment roads")

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        """Return the help shown beside the parameters."""
        return tr(
            "Finds roads in a raster with a roadseg model (the embedded default or a model file) "
            "and writes a class raster plus a GeoPackage with one polygon layer per road class "
            "(major: main roads; minor: streets; track: unpaved tracks) and a centreline layer. "
            "The area is checked against the size limit first (parameter, else the plugin "
            "setting) and the estimated time is logged. Results load as one group: centrelines, "
            "road polygons, and the class raster with transparent background. An XYZ, WMS, WMTS "
            "or virtual raster layer is first rendered over the area (required for a web layer) "
            "at the working resolution into a temporary GeoTIFF, removed afterwards; the log says "
            "what resolution the layer really offers. Runs `roadseg predict` as a subprocess."
        )

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 - QGIS API
        """Declare parameters and outputs."""
        self.add_imagery_parameters()
        self.addParameter(
            QgsProcessingParameterNumber(
                self.MAX_AREA,
                tr("Size limit in km² (empty: the plugin setting; 0: no limit)"),
                QgsProcessingParameterNumber.Type.Double,
                None,
                True,
                0.0,
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterDestination(self.OUTPUT_RASTER, tr("Class raster"))
        )
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.OUTPUT_VECTORS, tr("Road layers"), tr("GeoPackage (*.gpkg)")
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                self.LOAD, tr("Add the styled road layers to the project"), True, True
            )
        )
        self.addOutput(
            QgsProcessingOutputMultipleLayers(
                "LAYERS", tr("Road layers (polygons per class, centrelines)")
            )
        )
        self.addOutput(QgsProcessingOutputVectorLayer("CENTERLINES", tr("Centrelines")))
        self.addOutput(QgsProcessingOutputNumber("ROAD_KM", tr("Total centreline length (km)")))

    def add_imagery_parameters(self) -> None:
        """The raster, area, model, device, tiling, working resolution and road threshold."""
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, tr("Raster layer")))
        self.addParameter(
            QgsProcessingParameterExtent(
                self.EXTENT,
                tr("Area (default: the whole raster; required for a web layer)"),
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.MODEL,
                tr("Model file (default: embedded model)"),
                optional=True,
                fileFilter=MODEL_FILTER,
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                self.DEVICE, tr("Device"), options=list(DEVICES), defaultValue=0, optional=True
            )
        )
        for key, label, default, minimum in (
            (self.TILE, tr("Tile size in px (0 = model default)"), 0, 0),
            (self.OVERLAP, tr("Tile overlap in px (-1 = automatic)"), -1, -1),
            (self.BATCH, tr("Batch size (0 = automatic)"), 0, 0),
        ):
            self.addParameter(
                QgsProcessingParameterNumber(
                    key, label, QgsProcessingParameterNumber.Type.Integer, default, True, minimum
                )
            )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.WORKING_GSD,
                tr(
                    "Working resolution in m/px (0 = the model's; e.g. 0.4 for the 0.5 m default "
                    "model connects roads better at 1.6x the time)"
                ),
                QgsProcessingParameterNumber.Type.Double,
                0.0,
                True,
                0.0,
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.ROAD_THRESHOLD,
                tr(
                    "Road threshold (0 = the model's; lower finds more road and fewer gaps, "
                    "with more false road)"
                ),
                QgsProcessingParameterNumber.Type.Double,
                0.0,
                True,
                0.0,
                0.95,
            )
        )

    def network_options(self, parameters: dict, context: QgsProcessingContext) -> dict[str, Any]:
        """The RunParameters fields of the model file, device, tiling and road threshold."""
        model = self.parameterAsFile(parameters, self.MODEL, context) or None
        overlap = self.parameterAsInt(parameters, self.OVERLAP, context)
        return {
            "model": model,
            "model_label": model_label(model),
            "device": DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
            "tile": self.parameterAsInt(parameters, self.TILE, context) or None,
            "overlap": None if overlap < 0 else overlap,
            "batch_size": self.parameterAsInt(parameters, self.BATCH, context) or None,
            "road_threshold": self.parameterAsDouble(parameters, self.ROAD_THRESHOLD, context)
            or None,
        }

    def working_gsd(
        self, parameters: dict, context: QgsProcessingContext, info: dict[str, Any]
    ) -> float | None:
        """The WORKING_GSD parameter (None: the model's), refused when too far from the model's."""
        working = self.parameterAsDouble(parameters, self.WORKING_GSD, context) or None
        too_far = working_gsd_problem(working, info.get("gsd_m"))
        if too_far:  # before rendering a web layer at that resolution
            raise QgsProcessingException(too_far)
        return working

    def _extent(
        self, layer: QgsRasterLayer, parameters: dict, context: QgsProcessingContext
    ) -> QgsRectangle:
        """The area to map in the layer's CRS: the EXTENT parameter on the layer, else the layer.

        A web layer covers the world, so it needs the parameter.
        """
        if parameters.get(self.EXTENT) in (None, ""):
            if is_web(layer):
                raise QgsProcessingException(
                    tr(
                        "The layer {name} is a web layer, which covers the whole world: give the "
                        "area to map in the parameter 'Area' (EXTENT), e.g. the map canvas extent."
                    ).format(name=repr(layer.name()))
                )
            return layer.extent()
        area = self.parameterAsExtent(parameters, self.EXTENT, context, layer.crs())
        extent = area.intersect(layer.extent())
        if extent.isEmpty() or extent.width() <= 0 or extent.height() <= 0:
            raise QgsProcessingException(
                tr("The area does not overlap the raster {name}.").format(name=repr(layer.name()))
            )
        return extent

    def _limit(self, parameters: dict, context: QgsProcessingContext) -> float:
        if parameters.get(self.MAX_AREA) in (None, ""):
            return prefs.limit_km2()
        return self.parameterAsDouble(parameters, self.MAX_AREA, context)

    def processAlgorithm(  # noqa: N802 - QGIS API
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        """Check the area and the model, run the engine, return (and load) the outputs."""
        layer = raster_input(self, parameters, self.INPUT, context)
        reason = unusable_reason(layer, rendered=True)
        if reason:
            raise QgsProcessingException(reason)
        if not layer.dataProvider().crs().isValid():
            raise QgsProcessingException(
                tr("The raster {name} has no CRS: georeference it first.").format(
                    name=repr(layer.name())
                )
            )
        crs = layer.crs()
        extent = self._extent(layer, parameters, context)
        out_raster = self.parameterAsOutputLayer(parameters, self.OUTPUT_RASTER, context)
        out_vectors = self.parameterAsFileOutput(parameters, self.OUTPUT_VECTORS, context)
        options = self.network_options(parameters, context)
        model, device, label = options["model"], options["device"], options["model_label"]
        engine = engine_argv()
        area_m2 = measure_area(QgsGeometry.fromRect(extent), crs, context.transformContext())
        limit = self._limit(parameters, context)
        size = estimate(area_m2, 0.0, "cpu", limit_km2=limit)
        if size.over_limit:  # refused before any engine call
            raise QgsProcessingException(
                size.limit_message(
                    tr(
                        "with the parameter 'Size limit in km²' (or in Plugins ▸ roadseg ▸ Settings)"
                    )
                )
            )
        info = self._model_info(engine, model, feedback)
        used = device if device != "auto" else (prefs.auto_device() or "cpu")
        working = self.working_gsd(parameters, context, info)
        gsd = working or float(info.get("gsd_m") or 0.0)
        est = estimate(area_m2, gsd, used, prefs.throughput(used), limit)
        feedback.pushInfo(est.text())
        path, bbox, bbox_crs = layer.source().split("|", 1)[0], rect_bbox(extent), crs_argument(crs)
        render: RenderJob | None = None
        if needs_render(layer):
            area = Area(bbox, bbox_crs, area_m2)
            fix = tr("give the parameter 'Working resolution in m/px' (WORKING_GSD)")
            render = plan_layer_render(layer, area, gsd, label, fix, context, feedback)
            path, bbox, bbox_crs = str(render.path), render.bbox, render.crs_argument
        try:
            params = RunParameters(
                raster_path=path,
                raster_name=layer.name(),
                bbox=bbox,
                bbox_crs=bbox_crs,
                output_dir=out_vectors,
                outputs=Outputs(True, True, True),
                working_gsd=working,
                area_mode="layer",
                area_km2=est.area_km2,
                **options,
            )
        except PluginError as exc:
            raise QgsProcessingException(exc.message) from None
        overwrite = supports_option(engine, "predict", "--overwrite")
        argv = predict_argv(engine, params, out_raster, out_vectors, overwrite=overwrite)
        result = run_rendered(render, argv, feedback, vectorize=True)
        note = unsure_note(result)
        if note:  # also in the engine's own warning above; said again where it stands out
            feedback.pushWarning(note)
        used_device = str(result.get("device") or "")
        if used_device:
            prefs.record_device(used_device, auto=device == "auto")
        km = road_km(result)
        scheme = scheme_from_outputs(out_vectors, out_raster, info)
        stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        group = default_run_name(layer.name(), label, stamp)
        style_raster_on_completion(context, out_raster, scheme, group)
        if self.parameterAsBool(parameters, self.LOAD, context):
            load_on_completion(context, out_vectors, scheme, self.OUTPUT_VECTORS, group)
        return {
            self.OUTPUT_RASTER: out_raster,
            self.OUTPUT_VECTORS: out_vectors,
            "LAYERS": gpkg_layers(out_vectors),
            "CENTERLINES": f"{out_vectors}|layername=centerlines",
            "ROAD_KM": km if km is not None else 0.0,
        }

    def _model_info(
        self, engine: tuple[str, ...], model: str | None, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        """The model's description from the engine (a model that does not load stops here)."""
        res = run_engine(
            model_info_argv(engine, model or "default"),
            env=engine_env(),
            is_cancelled=feedback.isCanceled,
        )
        if not res.ok or not isinstance(res.result, dict):
            raise QgsProcessingException(res.message())
        return res.result
