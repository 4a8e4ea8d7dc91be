"""Web and virtual raster layers rendered into a temporary GeoTIFF for one run.

Map roads, Adapt model and Retrain from corrections share this, and so do the Processing
algorithms: the dialog (or the algorithm) plans a :class:`RenderJob` (a clone of the
layer's data provider, the grid and the file) in the main thread; the run
(``gui.engine_task.EngineTask``, or the algorithm) executes it in its worker thread with
QGIS's own :class:`QgsRasterFileWriter` over a :class:`QgsRasterPipe` (provider, then a
projector into the metric CRS) through :func:`render_with_progress`, runs the engine on
the file and removes it whatever the outcome. The provider picks its tiles for the requested resolution and never asks beyond
the layer's maximum zoom: finer than that, it is upsampled (and the dialog says so).
"""

from __future__ import annotations

import math
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCoordinateTransformContext,
    QgsMapLayer,
    QgsPointXY,
    QgsRasterBlockFeedback,
    QgsRasterDataProvider,
    QgsRasterFileWriter,
    QgsRasterLayer,
    QgsRasterPipe,
    QgsRasterProjector,
    QgsRectangle,
    QgsUnitTypes,
)
from qgis.PyQt.QtCore import Qt

from ..core.errors import InputError, PluginError
from ..core.i18n import tr
from ..core.params import BBox, safe_name
from ..core.webraster import RENDERED_PROVIDERS, Offer, grid_size, utm_epsg, xyz_offer
from .area import Area, crs_argument, raster_gsd_m, rect_bbox

#: Prefix of the temporary folder that holds one rendered GeoTIFF.
TEMP_PREFIX = "roadseg-render-"
#: Share of a run's progress bar the rendering takes (0..1); the engine's progress follows.
RENDER_SHARE = 0.05


def needs_render(layer: QgsMapLayer | None) -> bool:
    """Whether a raster layer is a web or virtual layer that is rendered before a run."""
    return isinstance(layer, QgsRasterLayer) and layer.providerType() in RENDERED_PROVIDERS


def is_web(layer: QgsMapLayer | None) -> bool:
    """Whether a layer is an XYZ/WMS/WMTS layer (no extent of its own worth mapping)."""
    return isinstance(layer, QgsRasterLayer) and layer.providerType() == "wms"


def web_area_problem(layer: QgsMapLayer | None, mode: str) -> str:
    """Why ``mode`` cannot be the area on ``layer`` ("" when it can): a web layer is the world."""
    if is_web(layer) and mode == "layer":
        return tr(
            "A web layer covers the whole world: choose the current map extent or polygons "
            "as the area."
        )
    return ""


def _is_mercator(crs: QgsCoordinateReferenceSystem) -> bool:
    return "+proj=merc" in crs.toProj()


def _lon_lat(area: Area, transform_context: QgsCoordinateTransformContext) -> tuple[float, float]:
    """The area's centre in degrees."""
    minx, miny, maxx, maxy = area.bbox
    src = QgsCoordinateReferenceSystem(area.crs)
    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    pt = QgsCoordinateTransform(src, wgs84, transform_context).transform(
        QgsPointXY((minx + maxx) / 2, (miny + maxy) / 2)
    )
    return pt.x(), pt.y()


def ground_metres(units_per_px: float, crs: QgsCoordinateReferenceSystem, lat: float) -> float:
    """A pixel size in the layer's units as ground metres at latitude ``lat``."""
    if crs.isGeographic():
        return units_per_px * 111_320.0
    factor = QgsUnitTypes.fromUnitToUnitFactor(
        crs.mapUnits(), QgsUnitTypes.DistanceUnit.DistanceMeters
    )
    scale = math.cos(math.radians(lat)) if _is_mercator(crs) else 1.0
    return units_per_px * float(factor) * scale


def layer_offer(
    layer: QgsRasterLayer,
    area: Area,
    gsd_m: float,
    transform_context: QgsCoordinateTransformContext,
) -> Offer:
    """What ``layer`` offers over ``area``, rendered for a model at ``gsd_m`` (0: unknown)."""
    _lon, lat = _lon_lat(area, transform_context)
    if layer.providerType() != "wms":
        return Offer("virtual", raster_gsd_m(layer), gsd_m)
    xyz = xyz_offer(layer.source(), lat, gsd_m)
    if xyz is not None:
        return xyz
    resolutions = [r for r in layer.dataProvider().nativeResolutions() if r > 0]
    if not resolutions:
        return Offer("WMS", None, gsd_m)
    return Offer("WMTS", ground_metres(min(resolutions), layer.crs(), lat), gsd_m)


def target_crs(
    src: QgsCoordinateReferenceSystem, lon: float, lat: float
) -> QgsCoordinateReferenceSystem:
    """The CRS a layer is rendered in: its own when projected in metres (not Mercator), else UTM."""
    metric = src.mapUnits() == QgsUnitTypes.DistanceUnit.DistanceMeters
    if src.isValid() and not src.isGeographic() and metric and not _is_mercator(src):
        return src
    return QgsCoordinateReferenceSystem(f"EPSG:{utm_epsg(lon, lat)}")


def drew_nothing(path: Path) -> bool:
    """Whether a rendered GeoTIFF is transparent everywhere (its alpha band is all 0)."""
    from osgeo import gdal

    ds = gdal.Open(str(path))
    try:
        for i in range(1, ds.RasterCount + 1):
            band = ds.GetRasterBand(i)
            if band.GetColorInterpretation() == gdal.GCI_AlphaBand:
                return bool(band.ComputeRasterMinMax(False)[1] == 0)
        return False
    finally:
        ds = None


@dataclass
class RenderJob:
    """One layer rendered over one area into ``path`` (a file in a folder of its own).

    Attributes:
        provider: A clone of the layer's data provider (used in the task's thread only).
        src_crs, crs: The layer's CRS and the CRS of the GeoTIFF.
        extent: The GeoTIFF's extent in ``crs`` (exactly ``width`` × ``height`` pixels).
        width, height: Pixels.
        gsd_m: Pixel size (m).
        path: The GeoTIFF; its folder is removed by :meth:`cleanup`.
        name: The layer's name (for messages).
        transform_context: The datum transforms of the project (or of the Processing
            context) the job was planned in: :meth:`run` runs in a worker thread, where the
            project must not be asked.

    """

    provider: QgsRasterDataProvider
    src_crs: QgsCoordinateReferenceSystem
    crs: QgsCoordinateReferenceSystem
    extent: QgsRectangle
    width: int
    height: int
    gsd_m: float
    path: Path
    name: str
    transform_context: QgsCoordinateTransformContext

    @property
    def bbox(self) -> BBox:
        """The extent as the engine's ``--bbox``."""
        return rect_bbox(self.extent)

    @property
    def crs_argument(self) -> str:
        """The engine's ``--bbox-crs``."""
        return crs_argument(self.crs)

    def run(self, feedback: QgsRasterBlockFeedback | None = None) -> Path:
        """Write the GeoTIFF (worker thread); raises PluginError when the layer cannot be read."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        pipe = QgsRasterPipe()
        if not pipe.set(self.provider):
            raise PluginError(tr("Cannot read the layer {name}.").format(name=repr(self.name)))
        context = self.transform_context
        if self.src_crs != self.crs:
            projector = QgsRasterProjector()
            projector.setCrs(self.src_crs, self.crs, context)
            pipe.insert(2, projector)
        writer = QgsRasterFileWriter(str(self.path))
        writer.setOutputFormat("GTiff")
        error = writer.writeRaster(
            pipe, self.width, self.height, self.extent, self.crs, context, feedback
        )
        if feedback is not None and feedback.isCanceled():
            return self.path
        if error != QgsRasterFileWriter.WriterError.NoError or not self.path.is_file():
            raise PluginError(
                tr(
                    "Could not render the layer {name} to {path} (QGIS raster writer error "
                    "{code}): check that the layer draws on the map, or save it as a GeoTIFF."
                ).format(name=repr(self.name), path=str(self.path), code=int(error))
            )
        if drew_nothing(self.path):
            raise PluginError(
                tr(
                    "The layer {name} drew nothing over the area to map (no tiles there, or its "
                    "server did not answer): check that it shows imagery on the map there."
                ).format(name=repr(self.name))
            )
        return self.path

    def cleanup(self) -> None:
        """Remove the rendered GeoTIFF and its folder."""
        shutil.rmtree(self.path.parent, ignore_errors=True)


def plan_render(
    layer: QgsRasterLayer,
    area: Area,
    gsd_m: float,
    transform_context: QgsCoordinateTransformContext,
) -> RenderJob:
    """Plan rendering ``layer`` over ``area`` at ``gsd_m`` (nothing is written yet).

    ``transform_context``: the project's (dialogs) or the Processing context's.

    Raises:
        InputError: the model's resolution is not known, or the area cannot be transformed.

    """
    if gsd_m <= 0:
        raise InputError(
            tr("The model's resolution is not known yet: wait for the model's description.")
        )
    lon, lat = _lon_lat(area, transform_context)
    src = layer.crs()
    dst = target_crs(src, lon, lat)
    rect = QgsRectangle(*area.bbox)
    if dst != src:
        rect = QgsCoordinateTransform(src, dst, transform_context).transformBoundingBox(rect)
    width, height = grid_size(rect.width(), rect.height(), gsd_m)
    left, top = rect.xMinimum(), rect.yMaximum()
    extent = QgsRectangle(left, top - height * gsd_m, left + width * gsd_m, top)
    folder = Path(tempfile.gettempdir()) / f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}"
    return RenderJob(
        layer.dataProvider().clone(),
        QgsCoordinateReferenceSystem(src),
        dst,
        extent,
        width,
        height,
        gsd_m,
        folder / f"{safe_name(layer.name())}.tif",
        layer.name(),
        QgsCoordinateTransformContext(transform_context),
    )


def render_with_progress(
    job: RenderJob, feedback: QgsRasterBlockFeedback, bar: Callable[[float], None]
) -> bool:
    """Write ``job``'s GeoTIFF (worker thread), its progress in the first part of ``bar``.

    Args:
        job: The rendering.
        feedback: Cancels the writer (nothing is written when it is cancelled already).
        bar: Sets the run's progress bar (a :class:`ForwardProgress`): the rendering takes
            its first :data:`RENDER_SHARE`.

    Returns:
        False when cancelled.

    Raises:
        PluginError: the layer drew nothing or cannot be read (the caller's
            :meth:`RenderJob.cleanup` removes what was written).

    """
    # Direct: the thread that would deliver a queued signal is busy in the writer.
    slot = feedback.progressChanged.connect(
        lambda p: bar(p * RENDER_SHARE), Qt.ConnectionType.DirectConnection
    )
    try:
        if not feedback.isCanceled():
            job.run(feedback)
    finally:
        feedback.progressChanged.disconnect(slot)
    return not feedback.isCanceled()
