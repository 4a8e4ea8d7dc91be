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

from ..core.i18n import tr
from ..core.styling import ClassScheme, ClassStyle, scheme_from_layer_names

CENTERLINES = "centerlines"
#: Custom property giving a road layer's place in its group (centrelines on top, raster last).
ORDER_KEY = "roadseg/order"


def centerlines_title() -> str:
    """Name of the centreline layer in the layer tree."""
    return tr("centrelines")


def polygons_title(style: ClassStyle) -> str:
    """Name of a class's polygon layer in the layer tree."""
    return tr("{name} roads").format(name=style.name)


def raster_title() -> str:
    """Name of the class raster layer in the layer tree."""
    return tr("road classes")


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
    """Paletted style: road classes in their colours; background and nodata transparent.

    Only the road classes are listed (no 0–255 legend), so everything else, the
    background included, lets the imagery show through.
    """
    classes = []
    for c in scheme.classes:
        classes.append(QgsPalettedRasterRenderer.Class(c.index, QColor(*c.rgb), c.name))
    renderer = QgsPalettedRasterRenderer(layer.dataProvider(), 1, classes)
    renderer.setOpacity(0.8)
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


def road_layers(
    vectors: Path, scheme: ClassScheme, polygons: bool = True, centrelines: bool = True
) -> list[QgsVectorLayer]:
    """The styled, non-empty road layers of a GeoPackage: centrelines, then polygons per class."""
    names = gpkg_layer_names(vectors)
    out: list[QgsVectorLayer] = []
    if centrelines and CENTERLINES in names:
        lines = QgsVectorLayer(f"{vectors}|layername={CENTERLINES}", centerlines_title(), "ogr")
        if lines.isValid() and lines.featureCount() > 0:
            style_centerlines(lines, scheme)
            lines.setCustomProperty(ORDER_KEY, 0)
            out.append(lines)
    if polygons:
        for c in scheme.classes:
            if c.polygon_layer not in names:
                continue
            lyr = QgsVectorLayer(f"{vectors}|layername={c.polygon_layer}", polygons_title(c), "ogr")
            if lyr.isValid() and lyr.featureCount() > 0:
                style_polygons(lyr, c)
                lyr.setCustomProperty(ORDER_KEY, c.index)
                out.append(lyr)
    return out


def add_result_layers(
    group_name: str,
    scheme: ClassScheme | None,
    vectors: Path | None,
    raster: Path | None,
    polygons: bool = True,
    centrelines: bool = True,
    project: QgsProject | None = None,
) -> AddedLayers:
    """Add the run's non-empty layers to a new group at the top of the layer tree.

    Args:
        group_name: The group's name (raster, model and time of the run).
        scheme: Road classes and colours (None: from the GeoPackage's layer names).
        vectors: The run's GeoPackage (None: none written).
        raster: The run's class raster (None: not wanted).
        polygons: Whether to add the road polygon layers.
        centrelines: Whether to add the centreline layer.
        project: Target project (the current one by default).

    """
    project = project or QgsProject.instance()
    out = AddedLayers()
    pending: list[QgsMapLayer] = []
    if scheme is None or not scheme.classes:
        scheme = scheme_from_layer_names(gpkg_layer_names(vectors) if vectors else [])
    if vectors is not None and vectors.exists():
        found = road_layers(vectors, scheme, polygons, centrelines)
        pending += found
        lines = [lyr for lyr in found if lyr.customProperty(ORDER_KEY) == 0]
        if lines:
            out.km_by_class = centerline_km(lines[0], scheme)
    if raster is not None:
        rl = QgsRasterLayer(str(raster), raster_title())
        if rl.isValid():
            style_class_raster(rl, scheme)
            rl.setCustomProperty(ORDER_KEY, 1000)
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


def summary_text(
    km_by_class: dict[str, float], area_km2: float, seconds: float, saved: str = ""
) -> str:
    """Return the message shown after a run.

    >>> summary_text({"major": 1.234, "minor": 0.5}, 0.25, 12.3, "/r/roads.gpkg")
    'Roads: major 1.23 km, minor 0.50 km (total 1.73 km) · area 0.25 km² · 12 s · saved in \
/r/roads.gpkg'
    """
    parts = [f"{name} {km:.2f} km" for name, km in km_by_class.items()]
    total = sum(km_by_class.values())
    if parts:
        roads = tr("Roads: {parts} (total {total:.2f} km)").format(
            parts=", ".join(parts), total=total
        )
    else:
        roads = tr("No roads found")
    text = (
        roads
        + " · "
        + tr("area {area:.2f} km² · {seconds:.0f} s").format(area=area_km2, seconds=seconds)
    )
    if saved:
        text += " · " + tr("saved in {path}").format(path=saved)
    return text
