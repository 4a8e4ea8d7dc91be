"""The files an adaptation reads: the road layer and the checked area, written from QGIS layers.

The road layer is always exported (with its unsaved edits, the geometry and the class
field only) into the run's work folder: the engine then reads exactly what the user
sees, whatever the layer's provider (memory, OSM query, a layer of a multi-layer
GeoPackage). The area becomes polygons in a file: the selected polygons, every polygon
of a layer, or the map extent / the raster's extent as a rectangle. A web or virtual
layer is rendered over that area, or around the roads (:func:`labels_area`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCoordinateTransformContext,
    QgsFeature,
    QgsGeometry,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorFileWriter,
    QgsVectorLayer,
    QgsWkbTypes,
)

from ..core.errors import InputError
from ..core.i18n import tr
from .area import Area, area_to_map, crs_argument, measure_area, rect_bbox
from .render import ground_metres

if TYPE_CHECKING:  # the map canvas is a widget: Processing imports this module
    from qgis.gui import QgsMapCanvas

LABELS_NAME = "roads.gpkg"
AREA_NAME = "area"
#: Margin (m, at the equator for Mercator layers) around the roads' bounding box that is
#: rendered when the area is "around the roads" (the engine widens their outline by half a
#: road width).
LABELS_MARGIN_M = 20.0


def _write(
    layer: QgsVectorLayer,
    path: Path,
    attributes: list[int],
    transform_context: QgsCoordinateTransformContext,
) -> None:
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = path.stem
    options.attributes = attributes
    options.fileEncoding = "UTF-8"
    result = QgsVectorFileWriter.writeAsVectorFormatV3(layer, str(path), transform_context, options)
    code, message = result[0], result[1] if len(result) > 1 else ""
    if code != QgsVectorFileWriter.WriterError.NoError:
        raise InputError(
            tr("Cannot write {path}: {message}").format(path=repr(str(path)), message=message)
        )


def export_labels(
    layer: QgsVectorLayer | None,
    class_field: str,
    folder: Path,
    transform_context: QgsCoordinateTransformContext,
) -> Path:
    """Write the road layer (unsaved edits included) as ``folder/roads.gpkg``.

    Raises:
        InputError: no layer, not lines or polygons, or no roads in it.

    """
    if not isinstance(layer, QgsVectorLayer) or not layer.isValid():
        raise InputError(tr("Choose the layer with the roads you have (lines or polygons)."))
    kind = layer.geometryType()
    if kind not in (
        QgsWkbTypes.GeometryType.LineGeometry,
        QgsWkbTypes.GeometryType.PolygonGeometry,
    ):
        raise InputError(
            tr("The layer {name} holds neither lines nor polygons: choose a road layer.").format(
                name=repr(layer.name())
            )
        )
    if not any(f.hasGeometry() for f in layer.getFeatures()):
        raise InputError(
            tr("The road layer {name} has no roads: draw or load some first.").format(
                name=repr(layer.name())
            )
        )
    index = layer.fields().indexOf(class_field) if class_field else -1
    if class_field and index < 0:
        raise InputError(
            tr("The road layer {name} has no field {field}: choose its class field.").format(
                name=repr(layer.name()), field=repr(class_field)
            )
        )
    path = folder / LABELS_NAME
    _write(layer, path, [index] if index >= 0 else [], transform_context)
    return path


def _rectangle_layer(rect: QgsRectangle, crs: QgsCoordinateReferenceSystem) -> QgsVectorLayer:
    layer = QgsVectorLayer(f"Polygon?crs={crs.authid() or crs.toWkt()}", AREA_NAME, "memory")
    if not layer.crs().isValid():
        layer.setCrs(crs)
    feature = QgsFeature()
    feature.setGeometry(QgsGeometry.fromRect(rect))
    layer.dataProvider().addFeatures([feature])
    return layer


def write_area(
    mode: str,
    raster: QgsRasterLayer | None,
    canvas: QgsMapCanvas | None,
    polygons: QgsVectorLayer | None,
    folder: Path,
    transform_context: QgsCoordinateTransformContext,
) -> Path | None:
    """Write where the labels are complete; None for ``labels`` (the engine's default).

    Raises:
        InputError: the area does not overlap the raster, no polygons, no CRS...

    """
    if mode == "labels":
        return None
    area = area_to_map(mode, raster, canvas, polygons, transform_context=transform_context)
    if area.geojson is not None:
        path = folder / f"{AREA_NAME}.geojson"
        path.write_text(area.geojson, encoding="utf-8")
        return path
    assert raster is not None  # area_to_map refused a missing raster
    path = folder / f"{AREA_NAME}.gpkg"
    layer = _rectangle_layer(QgsRectangle(*area.bbox), raster.crs())
    _write(layer, path, [], transform_context)
    return path


def labels_area(
    labels: QgsVectorLayer,
    raster: QgsRasterLayer,
    transform_context: QgsCoordinateTransformContext,
) -> Area:
    """The roads' bounding box with a margin, in the raster's CRS and clipped to it.

    What a web or virtual layer is rendered over when the area is "around the roads".

    Raises:
        InputError: the layer has no roads, or they are not over the raster.

    """
    crs = raster.crs()
    rect = labels.extent()
    if rect.isNull():
        raise InputError(
            tr("The road layer {name} has no roads: draw or load some first.").format(
                name=repr(labels.name())
            )
        )
    if labels.crs() != crs:
        to_raster = QgsCoordinateTransform(labels.crs(), crs, transform_context)
        rect = to_raster.transformBoundingBox(rect)
    rect = rect.buffered(LABELS_MARGIN_M / ground_metres(1.0, crs, 0.0))
    clipped = rect.intersect(raster.extent())
    if clipped.isEmpty():
        raise InputError(
            tr(
                "The roads of {labels} are not over the layer {name}: choose roads over the "
                "imagery."
            ).format(labels=repr(labels.name()), name=repr(raster.name()))
        )
    area_m2 = measure_area(QgsGeometry.fromRect(clipped), crs, transform_context)
    return Area(rect_bbox(clipped), crs_argument(crs), area_m2)
