"""Result layers: GeoPackage layers in a group named after the run, styled per class."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsLayerTreeGroup,
    QgsLineSymbol,
    QgsMapLayer,
    QgsPalettedRasterRenderer,
    QgsProject,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsRendererCategory,
    QgsSingleSymbolRenderer,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QColor

from ..core.styling import ClassScheme, ClassStyle, scheme_from_layer_names

CENTERLINES = "centerlines"


def gpkg_layer_names(path: str | Path) -> list[str]:
    """Return the layer names inside a GeoPackage."""
    md = QgsProviderRegistry.instance().providerMetadata("ogr")
    names = []
    for sub in md.querySublayers(str(path)):
        names.append(sub.name())
    return names


def polygon_symbol(style: ClassStyle) -> QgsFillSymbol:
    """Return a light translucent fill in the class colour with an outline of that colour.

    The centreline, drawn above in the full colour, then reads as the road's axis.
    """
    r, g, b = style.rgb
    return QgsFillSymbol.createSimple(
        {
            "color": f"{r},{g},{b},95",
            "outline_color": f"{r},{g},{b},220",
            "outline_width": "0.25",
            "outline_width_unit": "MM",
        }
    )


def line_symbol(style: ClassStyle) -> QgsLineSymbol:
    """Return a solid line in the class colour whose width grows with the class's road width."""
    r, g, b = style.rgb
    sym = QgsLineSymbol.createSimple(
        {
            "line_color": f"{r},{g},{b},255",
            "line_width": f"{style.line_width_mm}",
            "line_width_unit": "MM",
            "capstyle": "round",
            "joinstyle": "round",
        }
    )
    return sym


def style_polygons(layer: QgsVectorLayer, style: ClassStyle) -> None:
    """Single-symbol polygon style for one class's layer."""
    layer.setRenderer(QgsSingleSymbolRenderer(polygon_symbol(style)))
    layer.triggerRepaint()


def style_centerlines(layer: QgsVectorLayer, scheme: ClassScheme) -> None:
    """Categorised style on the ``class`` field (names or ids), width by class."""
    idx = layer.fields().indexOf("class")
    if idx < 0:
        fallback = scheme.classes[0] if scheme.classes else ClassStyle(1, "road", (230, 85, 13))
        layer.setRenderer(QgsSingleSymbolRenderer(line_symbol(fallback)))
        return
    numeric = layer.fields().at(idx).isNumeric()
    categories = []
    for c in scheme.classes:
        value = c.index if numeric else c.name
        categories.append(QgsRendererCategory(value, line_symbol(c), c.name))
    renderer = QgsCategorizedSymbolRenderer("class", categories)
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def style_class_raster(layer: QgsRasterLayer, scheme: ClassScheme) -> None:
    """Paletted style: road classes in their colours, background and nodata transparent."""
    classes = []
    for c in scheme.classes:
        col = QColor(*c.rgb)
        classes.append(QgsPalettedRasterRenderer.Class(c.index, col, c.name))
    renderer = QgsPalettedRasterRenderer(layer.dataProvider(), 1, classes)
    layer.setRenderer(renderer)
    layer.triggerRepaint()


@dataclass
class AddedLayers:
    """What :func:`add_result_layers` added."""

    group: QgsLayerTreeGroup | None = None
    layers: list[QgsMapLayer] = field(default_factory=list)
    km_by_class: dict[str, float] = field(default_factory=dict)


def centerline_km(layer: QgsVectorLayer, scheme: ClassScheme) -> dict[str, float]:
    """Kilometres of centreline per class name (``length_m`` attribute, else geometry)."""
    fields = layer.fields()
    has_len = fields.indexOf("length_m") >= 0
    has_cls = fields.indexOf("class") >= 0
    totals: dict[str, float] = defaultdict(float)
    for f in layer.getFeatures():
        raw = f["class"] if has_cls else "road"
        cls = scheme.by_index(int(raw)) if isinstance(raw, int) else scheme.by_name(str(raw))
        name = cls.name if cls else str(raw)
        length = f["length_m"] if has_len else None
        if length is None or not isinstance(length, int | float):
            length = f.geometry().length() if f.hasGeometry() else 0.0
        totals[name] += float(length) / 1000.0
    order = {n: i for i, n in enumerate(scheme.names)}
    return dict(sorted(totals.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def add_result_layers(
    group_name: str,
    scheme: ClassScheme | None,
    vectors: Path | None,
    raster: Path | None,
    polygons: bool = True,
    centrelines: bool = True,
    project: QgsProject | None = None,
) -> AddedLayers:
    """Add the run's layers to a new group at the top of the layer tree.

    Args:
        group_name: The group's name (the run's name).
        scheme: Road classes and colours (None: from the GeoPackage's layer names).
        vectors: The run's GeoPackage.
        raster: The run's class raster (None: not wanted).
        polygons: Whether to add the road polygon layers.
        centrelines: Whether to add the centreline layer.
        project: Target project (the current one by default).

    """
    project = project or QgsProject.instance()
    out = AddedLayers()
    pending: list[QgsMapLayer] = []
    names = gpkg_layer_names(vectors) if vectors else []
    if scheme is None or not scheme.classes:
        scheme = scheme_from_layer_names(names)
    if vectors and centrelines and CENTERLINES in names:
        lines = QgsVectorLayer(f"{vectors}|layername={CENTERLINES}", "centrelines", "ogr")
        if lines.isValid():
            style_centerlines(lines, scheme)
            out.km_by_class = centerline_km(lines, scheme)
            pending.append(lines)
    if vectors and polygons:
        for c in scheme.classes:
            if c.polygon_layer not in names:
                continue
            lyr = QgsVectorLayer(f"{vectors}|layername={c.polygon_layer}", f"{c.name} roads", "ogr")
            if lyr.isValid():
                style_polygons(lyr, c)
                pending.append(lyr)
    if raster is not None:
        rl = QgsRasterLayer(str(raster), "road classes")
        if rl.isValid():
            style_class_raster(rl, scheme)
            pending.append(rl)
    if not pending:
        return out
    root = project.layerTreeRoot()
    group = root.insertGroup(0, group_name)
    for lyr in pending:
        project.addMapLayer(lyr, False)
        group.addLayer(lyr)
    out.group = group
    out.layers = pending
    return out


def summary_text(km_by_class: dict[str, float], area_km2: float, seconds: float) -> str:
    """Return the message shown after a run.

    >>> summary_text({"major": 1.234, "minor": 0.5}, 0.25, 12.3)
    'Roads: major 1.23 km, minor 0.50 km (total 1.73 km) · area 0.25 km² · 12 s'
    """
    parts = [f"{name} {km:.2f} km" for name, km in km_by_class.items()]
    total = sum(km_by_class.values())
    roads = f"Roads: {', '.join(parts)} (total {total:.2f} km)" if parts else "No roads found"
    return f"{roads} · area {area_km2:.2f} km² · {seconds:.0f} s"
