"""The area to map, in the raster's CRS: map extent, layer extent or selected polygons."""

from __future__ import annotations

import json
from dataclasses import dataclass

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCsException,
    QgsDistanceArea,
    QgsGeometry,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsUnitTypes,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.gui import QgsMapCanvas

from ..core.errors import InputError
from ..core.params import BBox


@dataclass(frozen=True)
class Area:
    """The rectangle to map in the raster's CRS.

    Attributes:
        bbox: (minx, miny, maxx, maxy) in ``crs``, clipped to the raster.
        crs: The engine's ``--bbox-crs`` value (the raster CRS's auth id, or its WKT).
        area_m2: Area on the ellipsoid in m².
        geojson: For selected polygons: the polygons (GeoJSON FeatureCollection in EPSG:4326).

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
            f"The raster {layer.name()!r} has no coordinate reference system: georeference it "
            "(Raster ▸ Projections ▸ Assign Projection, or a GeoTIFF with a CRS) and try again."
        )
    return layer.crs() if layer.crs().isValid() else provider_crs


def crs_argument(crs: QgsCoordinateReferenceSystem) -> str:
    """How the engine's ``--bbox-crs`` names a CRS: ``EPSG:…`` when possible, else WKT."""
    authid = crs.authid()
    return authid if authid else crs.toWkt()


def _transform(
    rect: QgsRectangle, src: QgsCoordinateReferenceSystem, dst: QgsCoordinateReferenceSystem
) -> QgsRectangle:
    if src == dst:
        return QgsRectangle(rect)
    try:
        tr = QgsCoordinateTransform(src, dst, QgsProject.instance())
        return tr.transformBoundingBox(rect)
    except QgsCsException:
        raise InputError(
            f"The area cannot be transformed from {src.authid() or 'its CRS'} to the raster's "
            f"{dst.authid() or 'CRS'}: choose an area over the raster."
        ) from None


def _polygons_geojson(layer: QgsVectorLayer) -> str:
    """Return the selected polygons as a GeoJSON FeatureCollection in EPSG:4326 (RFC 7946)."""
    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    tr = QgsCoordinateTransform(layer.crs(), wgs84, QgsProject.instance())
    feats = []
    for f in layer.getSelectedFeatures():
        if not f.hasGeometry():
            continue
        g = QgsGeometry(f.geometry())
        g.transform(tr)
        feats.append({"type": "Feature", "properties": {}, "geometry": json.loads(g.asJson(9))})
    return json.dumps({"type": "FeatureCollection", "features": feats})


def _polygon_bbox(layer: QgsVectorLayer) -> QgsRectangle:
    if layer.geometryType() != QgsWkbTypes.PolygonGeometry:
        raise InputError(f"The layer {layer.name()!r} is not a polygon layer: choose polygons.")
    feats = list(layer.getSelectedFeatures())
    if not feats:
        raise InputError(
            f"No features are selected in {layer.name()!r}: select the polygons to map, or "
            "choose another area."
        )
    rect = QgsRectangle()
    rect.setMinimal()
    for f in feats:
        if f.hasGeometry():
            rect.combineExtentWith(f.geometry().boundingBox())
    if rect.isEmpty():
        raise InputError(f"The selected features of {layer.name()!r} have no geometry.")
    return rect


def area_to_map(
    mode: str,
    raster: QgsRasterLayer | None,
    canvas: QgsMapCanvas | None = None,
    polygons: QgsVectorLayer | None = None,
) -> Area:
    """Return the area to map in the raster's CRS, clipped to the raster's extent.

    Args:
        mode: ``canvas``, ``layer`` or ``selection``.
        raster: The raster layer.
        canvas: The map canvas (mode ``canvas``): its extent is in the project CRS.
        polygons: A polygon layer with selected features (mode ``selection``).

    Raises:
        InputError: no raster, no CRS, no selection, or no overlap with the raster.

    """
    if raster is None or not raster.isValid():
        raise InputError(
            "Choose a raster layer to map roads on (add imagery to the project first)."
        )
    dst = raster_crs(raster)
    geojson = None
    if mode == "layer":
        rect, what = raster.extent(), "layer"
    elif mode == "canvas":
        if canvas is None:
            raise InputError("There is no map canvas to take the extent from.")
        src = canvas.mapSettings().destinationCrs()
        rect, what = _transform(canvas.extent(), src, dst), "current map extent"
    elif mode == "selection":
        if polygons is None:
            raise InputError("Choose a polygon layer whose selected features give the area.")
        rect = _transform(_polygon_bbox(polygons), polygons.crs(), dst)
        what = "selected polygons"
        geojson = _polygons_geojson(polygons)
    else:
        raise InputError(f"Unknown area {mode!r}: choose map extent, layer or selection.")
    clipped = rect.intersect(raster.extent())
    if clipped.isEmpty() or clipped.width() <= 0 or clipped.height() <= 0:
        raise InputError(
            f"The {what} does not overlap the raster {raster.name()!r}: pan or zoom the map to "
            "the imagery, or choose 'Whole raster layer'."
        )
    da = QgsDistanceArea()
    da.setSourceCrs(dst, QgsProject.instance().transformContext())
    da.setEllipsoid(dst.ellipsoidAcronym() or "EPSG:7030")
    area = da.measureArea(QgsGeometry.fromRect(clipped))
    if area <= 0:  # planar fallback (e.g. an unknown ellipsoid)
        area = clipped.area()
    return Area(
        (clipped.xMinimum(), clipped.yMinimum(), clipped.xMaximum(), clipped.yMaximum()),
        crs_argument(dst),
        float(area),
        geojson,
    )


def raster_gsd_m(raster: QgsRasterLayer) -> float:
    """Return the raster's pixel size in metres (approximate for geographic CRSs)."""
    px = raster.rasterUnitsPerPixelX()
    crs = raster.crs()
    if crs.isGeographic():
        return float(px) * 111_320.0
    to_m = QgsUnitTypes.fromUnitToUnitFactor(crs.mapUnits(), QgsUnitTypes.DistanceMeters)
    return float(px) * float(to_m)
