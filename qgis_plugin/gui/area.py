"""The area to map, in the raster's CRS: map extent, layer extent, or polygons.

For the polygon areas (every polygon of a layer, or its selected polygons) the
engine gets the polygons themselves (``--extent-file``, GeoJSON in EPSG:4326); the
bounding box is kept for the estimate and the size limit.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCoordinateTransformContext,
    QgsCsException,
    QgsDistanceArea,
    QgsFeature,
    QgsGeometry,
    QgsRasterLayer,
    QgsRectangle,
    QgsUnitTypes,
    QgsVectorLayer,
    QgsWkbTypes,
)

from ..core.errors import InputError
from ..core.i18n import tr
from ..core.params import BBox

if TYPE_CHECKING:  # the map canvas is a widget: Processing imports this module
    from qgis.gui import QgsMapCanvas


@dataclass(frozen=True)
class Area:
    """The rectangle to map in the raster's CRS.

    Attributes:
        bbox: (minx, miny, maxx, maxy) in ``crs``, clipped to the raster.
        crs: The engine's ``--bbox-crs`` value (the raster CRS's auth id, or its WKT).
        area_m2: Area on the ellipsoid in m² (of the polygons themselves for polygon areas).
        geojson: For polygon areas: the polygons (GeoJSON FeatureCollection in EPSG:4326).

    """

    bbox: BBox
    crs: str
    area_m2: float
    geojson: str | None = None


def raster_crs(layer: QgsRasterLayer) -> QgsCoordinateReferenceSystem:
    """Return the raster's own CRS.

    Raises:
        InputError: when the file has no CRS (QGIS may have put a default on the layer).

    """
    provider_crs = layer.dataProvider().crs() if layer.dataProvider() else None
    if provider_crs is None or not provider_crs.isValid():
        raise InputError(
            tr(
                "The raster {name} has no coordinate reference system: georeference it "
                "(Raster ▸ Projections ▸ Assign Projection, or a GeoTIFF with a CRS) and try again."
            ).format(name=repr(layer.name()))
        )
    return layer.crs() if layer.crs().isValid() else provider_crs


def rect_bbox(rect: QgsRectangle) -> BBox:
    """A rectangle as ``(xmin, ymin, xmax, ymax)``: :attr:`Area.bbox`, the engine's ``--bbox``."""
    return (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())


def crs_argument(crs: QgsCoordinateReferenceSystem) -> str:
    """How the engine's ``--bbox-crs`` names a CRS: ``EPSG:…`` when possible, else WKT."""
    authid = crs.authid()
    return authid if authid else crs.toWkt()


def _transform(
    rect: QgsRectangle,
    src: QgsCoordinateReferenceSystem,
    dst: QgsCoordinateReferenceSystem,
    transform_context: QgsCoordinateTransformContext,
) -> QgsRectangle:
    if src == dst:
        return QgsRectangle(rect)
    try:
        tr_ = QgsCoordinateTransform(src, dst, transform_context)
        return tr_.transformBoundingBox(rect)
    except QgsCsException:
        raise InputError(
            tr(
                "The area cannot be transformed from {src} to the raster's {dst}: choose an area "
                "over the raster."
            ).format(src=src.authid() or tr("its CRS"), dst=dst.authid() or "CRS")
        ) from None


def _polygons(layer: QgsVectorLayer, selected: bool) -> list[QgsFeature]:
    if layer.geometryType() != QgsWkbTypes.GeometryType.PolygonGeometry:
        raise InputError(
            tr("The layer {name} is not a polygon layer: choose polygons.").format(
                name=repr(layer.name())
            )
        )
    feats = list(layer.getSelectedFeatures() if selected else layer.getFeatures())
    feats = [f for f in feats if f.hasGeometry() and not f.geometry().isEmpty()]
    if not feats:
        if selected:
            raise InputError(
                tr(
                    "No polygons are selected in {name}: select the polygons to map, or choose "
                    "'All polygons of a layer'."
                ).format(name=repr(layer.name()))
            )
        raise InputError(tr("The layer {name} has no polygons.").format(name=repr(layer.name())))
    return feats


def _geojson(
    feats: list[QgsFeature],
    crs: QgsCoordinateReferenceSystem,
    transform_context: QgsCoordinateTransformContext,
) -> str:
    """Return polygons as a GeoJSON FeatureCollection in EPSG:4326 (RFC 7946)."""
    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    tr_ = QgsCoordinateTransform(crs, wgs84, transform_context)
    out = []
    for f in feats:
        g = QgsGeometry(f.geometry())
        g.transform(tr_)
        out.append({"type": "Feature", "properties": {}, "geometry": json.loads(g.asJson(9))})
    return json.dumps({"type": "FeatureCollection", "features": out})


def measure_area(
    geom: QgsGeometry,
    crs: QgsCoordinateReferenceSystem,
    transform_context: QgsCoordinateTransformContext,
) -> float:
    """Return the area of ``geom`` (in ``crs``) on the ellipsoid, in m²."""
    da = QgsDistanceArea()
    da.setSourceCrs(crs, transform_context)
    da.setEllipsoid(crs.ellipsoidAcronym() or "EPSG:7030")
    area = da.measureArea(geom)
    return float(area) if area > 0 else float(geom.area())  # planar fallback


def area_to_map(
    mode: str,
    raster: QgsRasterLayer | None,
    canvas: QgsMapCanvas | None = None,
    polygons: QgsVectorLayer | None = None,
    *,
    transform_context: QgsCoordinateTransformContext,
) -> Area:
    """Return the area to map in the raster's CRS, clipped to the raster's extent.

    Args:
        mode: ``canvas``, ``layer``, ``polygons`` (all of a layer) or ``selection``.
        raster: The raster layer.
        canvas: The map canvas (mode ``canvas``): its extent is in the project CRS.
        polygons: A polygon layer (modes ``polygons`` and ``selection``).
        transform_context: The project's (dialogs) or the Processing context's datum
            transforms.

    Raises:
        InputError: no raster, no CRS, no polygons, or no overlap with the raster.

    """
    if raster is None or not raster.isValid():
        raise InputError(
            tr("Choose a raster layer to map roads on (add imagery to the project first).")
        )
    dst = raster_crs(raster)
    geojson = None
    polygon_area: float | None = None
    if mode == "layer":
        rect, what = raster.extent(), tr("layer")
    elif mode == "canvas":
        if canvas is None:
            raise InputError(tr("There is no map canvas to take the extent from."))
        src = canvas.mapSettings().destinationCrs()
        rect = _transform(canvas.extent(), src, dst, transform_context)
        what = tr("current map extent")
    elif mode in ("polygons", "selection"):
        if polygons is None:
            raise InputError(tr("Choose the polygon layer that gives the area."))
        feats = _polygons(polygons, selected=mode == "selection")
        union = QgsGeometry.unaryUnion([f.geometry() for f in feats])
        if polygons.crs() != dst:
            union.transform(QgsCoordinateTransform(polygons.crs(), dst, transform_context))
        inside = union.intersection(QgsGeometry.fromRect(raster.extent()))
        rect = union.boundingBox()
        what = tr("selected polygons") if mode == "selection" else tr("polygons")
        geojson = _geojson(feats, polygons.crs(), transform_context)
        polygon_area = measure_area(inside, dst, transform_context) if not inside.isEmpty() else 0.0
    else:
        raise InputError(tr("Unknown area {mode}.").format(mode=repr(mode)))
    clipped = rect.intersect(raster.extent())
    if clipped.isEmpty() or clipped.width() <= 0 or clipped.height() <= 0 or polygon_area == 0:
        if geojson is not None:
            msg = tr(
                "The {what} do not overlap the raster {name}: choose polygons over the imagery, "
                "or choose 'Whole raster layer'."
            )
        else:
            msg = tr(
                "The {what} does not overlap the raster {name}: pan or zoom the map to the "
                "imagery, or choose 'Whole raster layer'."
            )
        raise InputError(msg.format(what=what, name=repr(raster.name())))
    area = (
        polygon_area
        if polygon_area is not None
        else measure_area(QgsGeometry.fromRect(clipped), dst, transform_context)
    )
    return Area(rect_bbox(clipped), crs_argument(dst), float(area), geojson)


def raster_gsd_m(raster: QgsRasterLayer) -> float:
    """Return the raster's pixel size in metres (approximate for geographic CRSs)."""
    px = raster.rasterUnitsPerPixelX()
    crs = raster.crs()
    if crs.isGeographic():
        return float(px) * 111_320.0
    to_m = QgsUnitTypes.fromUnitToUnitFactor(
        crs.mapUnits(), QgsUnitTypes.DistanceUnit.DistanceMeters
    )
    return float(px) * float(to_m)


def central_square(area: Area, side_m: float) -> Area:
    """The part of ``area``'s rectangle around its centre of about ``side_m``² (itself if smaller).

    The rectangle is shrunk by the same factor on both axes, from its measured area, so it
    works in any CRS (degrees, Web Mercator's stretched metres).

    >>> a = Area((0.0, 0.0, 4000.0, 2000.0), "EPSG:32611", 8e6)
    >>> [round(v, 1) for v in central_square(a, 1000.0).bbox]
    [1292.9, 646.4, 2707.1, 1353.6]
    >>> central_square(a, 5000.0) is a
    True
    """
    full = (area.bbox[2] - area.bbox[0]) * (area.bbox[3] - area.bbox[1])
    if area.area_m2 <= side_m**2 or full <= 0:
        return area
    f = math.sqrt(side_m**2 / area.area_m2)
    cx, cy = (area.bbox[0] + area.bbox[2]) / 2, (area.bbox[1] + area.bbox[3]) / 2
    hw, hh = (area.bbox[2] - area.bbox[0]) * f / 2, (area.bbox[3] - area.bbox[1]) * f / 2
    return Area((cx - hw, cy - hh, cx + hw, cy + hh), area.crs, side_m**2)
