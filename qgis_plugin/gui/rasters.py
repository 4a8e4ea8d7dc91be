"""Which raster layers the engine can map, and roadseg's own outputs (tagged class rasters).

A roadseg class raster carries the GDAL metadata item ``ROADSEG_CLASSES`` (JSON list of
class names), with ``ROADSEG_COLORS`` and ``ROADSEG_WIDTHS_M``; it is read with GDAL
from QGIS (``osgeo``), never rasterio.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qgis.core import QgsMapLayer, QgsProject, QgsRasterLayer

from ..core.i18n import tr
from ..core.sources import is_engine_raster, source_path
from ..core.webraster import RENDERED_PROVIDERS

CLASSES_TAG = "ROADSEG_CLASSES"


def raster_file(layer: QgsMapLayer | None) -> str | None:
    """Return what a raster layer reads, if the engine can read it too.

    A GDAL raster file on disk, or a path GDAL opens itself (``/vsizip/…``, ``/vsicurl/…``,
    ``https://…``): the engine opens anything rasterio opens.
    """
    if not isinstance(layer, QgsRasterLayer) or layer.providerType() != "gdal":
        return None
    path = source_path(layer.source())
    return path if is_engine_raster(path) else None


def roadseg_tags(path: str | Path) -> dict[str, Any] | None:
    """Return a roadseg class raster's tags (``classes``, ``colors``, ``widths_m``), else None."""
    from osgeo import gdal

    try:
        ds = gdal.OpenEx(str(path), gdal.OF_RASTER | gdal.OF_READONLY)
    except RuntimeError:
        return None
    if ds is None:
        return None
    try:
        meta = ds.GetMetadata() or {}
    finally:
        ds = None
    if CLASSES_TAG not in meta:
        return None
    out: dict[str, Any] = {}
    for key, tag in (
        ("classes", CLASSES_TAG),
        ("colors", "ROADSEG_COLORS"),
        ("widths_m", "ROADSEG_WIDTHS_M"),
    ):
        try:
            out[key] = json.loads(meta.get(tag, "null"))
        except ValueError:
            out[key] = None
    out["model"] = meta.get("ROADSEG_MODEL")
    return out


def is_roadseg_output(layer: QgsMapLayer | None) -> bool:
    """Whether a layer is a class raster a previous roadseg run wrote."""
    path = raster_file(layer)
    return path is not None and roadseg_tags(path) is not None


def unusable_reason(layer: QgsMapLayer | None, rendered: bool = False) -> str:
    """Why the engine cannot map a layer ("" when it can).

    Args:
        layer: The layer.
        rendered: Whether web and virtual layers count (the dialogs render them to a GeoTIFF).

    """
    if not isinstance(layer, QgsRasterLayer):
        return tr("Choose a raster layer to map roads on (add imagery to the project first).")
    if rendered and layer.providerType() in RENDERED_PROVIDERS:
        return ""
    if raster_file(layer) is None:
        if rendered:
            return tr(
                "The layer {name} is neither a raster file on disk nor an XYZ, WMS, WMTS or "
                "virtual raster layer: save it as a GeoTIFF (Export ▸ Save As…) and map that."
            ).format(name=repr(layer.name()))
        return tr(
            "The layer {name} is not a raster file on disk (Map roads, Adapt model and "
            "Processing ▸ Segment roads render web, WMS/XYZ and virtual layers): save it as a "
            "GeoTIFF (Export ▸ Save As…) and use that."
        ).format(name=repr(layer.name()))
    if is_roadseg_output(layer):
        return tr(
            "The layer {name} is a road class raster written by roadseg, not imagery: choose "
            "the aerial or satellite image (a class raster can be vectorised with Processing ▸ "
            "roadseg ▸ Vectorise road raster)."
        ).format(name=repr(layer.name()))
    return ""


def usable_rasters(
    project: QgsProject | None = None, rendered: bool = False
) -> list[QgsRasterLayer]:
    """Raster layers the engine can map, in the layer tree's order (top first)."""
    project = project or QgsProject.instance()
    layers = [n.layer() for n in project.layerTreeRoot().findLayers()]
    listed = {lyr.id() for lyr in layers if lyr is not None}
    layers += [lyr for lyr in project.mapLayers().values() if lyr.id() not in listed]
    return [
        lyr
        for lyr in layers
        if isinstance(lyr, QgsRasterLayer) and not unusable_reason(lyr, rendered)
    ]


def unusable_rasters(
    project: QgsProject | None = None, rendered: bool = False
) -> list[QgsMapLayer]:
    """Raster layers the engine cannot map (basemaps unless ``rendered``, class rasters…)."""
    project = project or QgsProject.instance()
    return [
        lyr
        for lyr in project.mapLayers().values()
        if isinstance(lyr, QgsRasterLayer) and unusable_reason(lyr, rendered)
    ]


def default_raster(
    active: QgsMapLayer | None, project: QgsProject | None = None, rendered: bool = False
) -> Any:
    """The raster a dialog starts with: the active layer if usable, else the first usable.

    Imagery on disk comes first; a web or virtual layer (when ``rendered``) only when it is
    the active layer or there is no imagery file.
    """
    if isinstance(active, QgsRasterLayer) and not unusable_reason(active, rendered):
        return active
    usable = usable_rasters(project) or usable_rasters(project, rendered)
    return usable[0] if usable else None
