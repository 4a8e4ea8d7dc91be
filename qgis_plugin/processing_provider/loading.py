"""Load an algorithm's road layers into the project when it finishes, styled per class.

The class scheme comes from the outputs themselves: class names and ids from the
GeoPackage's ``roads_<class>`` layers (``class_id`` attribute), colours from the
class raster's palette, widths from the centrelines' ``width_m``.
"""

from __future__ import annotations

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsVectorLayer,
)

from ..core.styling import FALLBACK_COLORS, FALLBACK_WIDTH_M, ClassScheme, ClassStyle
from ..gui.layers import CENTERLINES, style_centerlines, style_polygons

#: Post-processors must outlive the algorithm object (PyQGIS does not own them).
_KEEP: list[QgsProcessingLayerPostProcessorInterface] = []


def _first_value(layer: QgsVectorLayer, field: str) -> object:
    if layer.fields().indexOf(field) < 0:
        return None
    for f in layer.getFeatures():
        return f[field]
    return None


def scheme_from_outputs(gpkg: str, class_raster: str | None = None) -> ClassScheme:
    """Road classes of a GeoPackage written by the engine, coloured by the class raster."""
    md = QgsProviderRegistry.instance().providerMetadata("ogr")
    names = [s.name() for s in md.querySublayers(gpkg)]
    palette: dict[int, tuple[int, int, int]] = {}
    if class_raster:
        ras = QgsRasterLayer(class_raster, "classes", "gdal")
        if ras.isValid():
            for item in ras.dataProvider().colorTable(1) or []:
                c = item.color
                palette[int(item.value)] = (c.red(), c.green(), c.blue())
    widths: dict[str, float] = {}
    if CENTERLINES in names:
        lines = QgsVectorLayer(f"{gpkg}|layername={CENTERLINES}", "c", "ogr")
        if lines.isValid() and lines.fields().indexOf("width_m") >= 0:
            for f in lines.getFeatures():
                widths.setdefault(str(f["class"]), float(f["width_m"] or FALLBACK_WIDTH_M))
    classes = []
    road_layers = [n for n in names if n.startswith("roads_")]
    for pos, layer_name in enumerate(road_layers, start=1):
        name = layer_name[len("roads_") :]
        lyr = QgsVectorLayer(f"{gpkg}|layername={layer_name}", name, "ogr")
        cid = _first_value(lyr, "class_id") if lyr.isValid() else None
        index = int(cid) if isinstance(cid, int) else pos
        rgb = palette.get(index, FALLBACK_COLORS[(index - 1) % len(FALLBACK_COLORS)])
        classes.append(ClassStyle(index, name, rgb, widths.get(name, FALLBACK_WIDTH_M)))
    return ClassScheme(tuple(sorted(classes, key=lambda c: c.index)))


class RoadStyler(QgsProcessingLayerPostProcessorInterface):
    """Style one loaded road layer (centrelines, or one class's polygons)."""

    def __init__(self, scheme: ClassScheme, style: ClassStyle | None = None) -> None:
        super().__init__()
        self.scheme = scheme
        self.style = style

    def postProcessLayer(  # noqa: N802 - QGIS API
        self, layer: object, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        """Apply the style once Processing has loaded the layer."""
        if not isinstance(layer, QgsVectorLayer):
            return
        if self.style is None:
            style_centerlines(layer, self.scheme)
        else:
            style_polygons(layer, self.style)


def load_on_completion(
    context: QgsProcessingContext, gpkg: str, scheme: ClassScheme, output_name: str
) -> int:
    """Ask Processing to add the GeoPackage's road layers to the project when done.

    Returns:
        The number of layers queued (0 without a destination project).

    """
    project = context.project()
    if project is None:
        return 0
    queued = 0
    wanted = [(CENTERLINES, "centrelines", None)] + [
        (c.polygon_layer, f"{c.name} roads", c) for c in scheme.classes
    ]
    md = QgsProviderRegistry.instance().providerMetadata("ogr")
    present = {s.name() for s in md.querySublayers(gpkg)}
    for layer_name, title, style in wanted:
        if layer_name not in present:
            continue
        details = QgsProcessingContext.LayerDetails(title, project, output_name)
        styler = RoadStyler(scheme, style)
        _KEEP.append(styler)
        details.setPostProcessor(styler)
        context.addLayerToLoadOnCompletion(f"{gpkg}|layername={layer_name}", details)
        queued += 1
    return queued
