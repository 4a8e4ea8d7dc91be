"""Load an algorithm's results into the project when it finishes, styled and grouped.

Like Map roads: one group per run (named after the raster, the model and the time)
with the centrelines on top, the non-empty road polygon layers per class below them,
and the class raster last, paletted in the class colours with background and nodata
transparent. The class scheme comes from the class raster's ``ROADSEG_*`` tags, else
from the GeoPackage's ``roads_<class>`` layers.
"""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsLayerTreeLayer,
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsProject,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsVectorLayer,
)

from ..core.styling import (
    FALLBACK_COLORS,
    FALLBACK_WIDTH_M,
    ClassScheme,
    ClassStyle,
    scheme_from_info,
)
from ..gui.layers import (
    CENTERLINES,
    ORDER_KEY,
    centerlines_title,
    polygons_title,
    raster_title,
    style_centerlines,
    style_class_raster,
    style_polygons,
)
from ..gui.rasters import roadseg_tags

#: Post-processors must outlive the algorithm object (PyQGIS does not own them).
_KEEP: list[QgsProcessingLayerPostProcessorInterface] = []
RASTER_ORDER = 1000


def _first_value(layer: QgsVectorLayer, field: str) -> object:
    if layer.fields().indexOf(field) < 0:
        return None
    for f in layer.getFeatures():
        return f[field]
    return None


def scheme_from_outputs(
    gpkg: str | None, class_raster: str | None = None, model_info: dict[str, Any] | None = None
) -> ClassScheme:
    """Road classes of a run's outputs.

    From the class raster's tags, else the model's description, else the GeoPackage's
    ``roads_<class>`` layers (with fallback colours).
    """
    for info in (roadseg_tags(class_raster) if class_raster else None, model_info):
        scheme = scheme_from_info(info)
        if scheme is not None and scheme.classes:
            return scheme
    md = QgsProviderRegistry.instance().providerMetadata("ogr")
    names = [s.name() for s in md.querySublayers(gpkg)] if gpkg else []
    widths: dict[str, float] = {}
    if CENTERLINES in names:
        lines = QgsVectorLayer(f"{gpkg}|layername={CENTERLINES}", "c", "ogr")
        if lines.isValid() and lines.fields().indexOf("width_m") >= 0:
            for f in lines.getFeatures():
                widths.setdefault(str(f["class"]), float(f["width_m"] or FALLBACK_WIDTH_M))
    classes = []
    for pos, layer_name in enumerate([n for n in names if n.startswith("roads_")], start=1):
        name = layer_name[len("roads_") :]
        lyr = QgsVectorLayer(f"{gpkg}|layername={layer_name}", name, "ogr")
        cid = _first_value(lyr, "class_id") if lyr.isValid() else None
        index = int(cid) if isinstance(cid, int) else pos
        rgb = FALLBACK_COLORS[(index - 1) % len(FALLBACK_COLORS)]
        classes.append(ClassStyle(index, name, rgb, widths.get(name, FALLBACK_WIDTH_M)))
    return ClassScheme(tuple(sorted(classes, key=lambda c: c.index)))


def move_into_group(project: QgsProject, layer: QgsMapLayer, group_name: str, order: int) -> None:
    """Move a loaded layer into the run's group (made at the top), ordered by ``order``."""
    root = project.layerTreeRoot()
    node = root.findLayer(layer.id())
    if node is None:
        return
    group = root.findGroup(group_name) or root.insertGroup(0, group_name)
    layer.setCustomProperty(ORDER_KEY, order)
    if node.parent() is group:
        return
    position = 0
    for child in group.children():
        other = child.layer() if isinstance(child, QgsLayerTreeLayer) else None
        if other is not None and int(other.customProperty(ORDER_KEY, 0)) <= order:
            position += 1
    group.insertChildNode(position, node.clone())
    parent = node.parent()
    if parent is not None:
        parent.removeChildNode(node)


class RoadStyler(QgsProcessingLayerPostProcessorInterface):
    """Style one loaded result layer and move it into the run's group."""

    def __init__(
        self, scheme: ClassScheme, kind: str, group: str, style: ClassStyle | None = None
    ) -> None:
        super().__init__()
        self.scheme, self.kind, self.group, self.style = scheme, kind, group, style

    def postProcessLayer(  # noqa: N802 - QGIS API
        self, layer: Any, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        """Apply the style once Processing has loaded the layer, then group it."""
        if self.kind == "raster" and isinstance(layer, QgsRasterLayer):
            style_class_raster(layer, self.scheme)
            order = RASTER_ORDER
        elif self.kind == "lines" and isinstance(layer, QgsVectorLayer):
            style_centerlines(layer, self.scheme)
            order = 0
        elif self.kind == "polygons" and isinstance(layer, QgsVectorLayer) and self.style:
            style_polygons(layer, self.style)
            order = self.style.index
        else:
            return
        if self.group:
            move_into_group(context.project() or QgsProject.instance(), layer, self.group, order)


def _keep(styler: RoadStyler) -> RoadStyler:
    _KEEP.append(styler)
    return styler


def style_raster_on_completion(
    context: QgsProcessingContext, class_raster: str, scheme: ClassScheme, group: str
) -> bool:
    """Style (and group) the class raster if Processing is going to load it."""
    if not context.willLoadLayerOnCompletion(class_raster):
        return False
    details = context.layerToLoadOnCompletionDetails(class_raster)
    details.name = raster_title()
    details.setPostProcessor(_keep(RoadStyler(scheme, "raster", group)))
    return True


def load_on_completion(
    context: QgsProcessingContext,
    gpkg: str,
    scheme: ClassScheme,
    output_name: str,
    group: str = "",
) -> int:
    """Ask Processing to add the GeoPackage's non-empty road layers to the project when done.

    Returns:
        The number of layers queued (0 without a destination project).

    """
    project = context.project()
    if project is None:
        return 0
    md = QgsProviderRegistry.instance().providerMetadata("ogr")
    present = {s.name() for s in md.querySublayers(gpkg)}
    wanted = [(CENTERLINES, centerlines_title(), "lines", None)] + [
        (c.polygon_layer, polygons_title(c), "polygons", c) for c in scheme.classes
    ]
    queued = 0
    for layer_name, title, kind, style in wanted:
        if layer_name not in present:
            continue
        uri = f"{gpkg}|layername={layer_name}"
        probe = QgsVectorLayer(uri, title, "ogr")
        if not probe.isValid() or probe.featureCount() == 0:
            continue  # no empty layers
        details = QgsProcessingContext.LayerDetails(title, project, output_name)
        details.setPostProcessor(_keep(RoadStyler(scheme, kind, group, style)))
        context.addLayerToLoadOnCompletion(uri, details)
        queued += 1
    return queued
