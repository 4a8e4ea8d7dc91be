"""Web and virtual raster layers as Processing inputs: accept, plan the rendering, render.

*Segment roads* and *Adapt model* share this: a web (XYZ/WMS/WMTS) or virtual raster layer
has no file the engine could read, so it is rendered over the area at the working
resolution into a temporary GeoTIFF (``gui.render``: the layer's maximum zoom respected,
the grid in a metric CRS), with the algorithm's progress and cancel; the caller runs the
engine on it and removes it with :meth:`RenderJob.cleanup` however the run ends.
"""

from __future__ import annotations

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsRasterBlockFeedback,
    QgsRasterLayer,
)
from qgis.PyQt.QtCore import Qt

from ..core.errors import PluginError
from ..core.i18n import tr
from ..gui.area import Area
from ..gui.render import RenderingTask, RenderJob, layer_offer, needs_render, plan_render
from .base import raster_file


def raster_input(
    alg: QgsProcessingAlgorithm, parameters: dict, name: str, context: QgsProcessingContext
) -> QgsRasterLayer:
    """Return the raster parameter: a GDAL file on disk, or a web or virtual layer to render."""
    layer = alg.parameterAsRasterLayer(parameters, name, context)
    if needs_render(layer):
        return layer
    return raster_file(alg, parameters, name, context)


def plan_layer_render(
    layer: QgsRasterLayer,
    area: Area,
    gsd_m: float,
    model: str,
    fix: str,
    feedback: QgsProcessingFeedback,
) -> RenderJob:
    """Plan rendering ``layer`` over ``area`` at ``gsd_m``; log what the layer really offers.

    Args:
        layer: The web or virtual layer.
        area: The area to render, in the layer's CRS.
        gsd_m: The working resolution (m/px); 0 when the model does not give one.
        model: The model's label (for the message when ``gsd_m`` is 0).
        fix: What the user can do when ``gsd_m`` is 0 (the end of that message).
        feedback: Gets the line about what the layer offers.

    Raises:
        QgsProcessingException: no resolution, or the area cannot be transformed.

    """
    if gsd_m <= 0:
        raise QgsProcessingException(
            tr(
                "The model {model} does not give its resolution, so the layer {name} cannot "
                "be rendered for it: {fix}."
            ).format(model=model, name=repr(layer.name()), fix=fix)
        )
    feedback.pushInfo(layer_offer(layer, area, gsd_m).text())
    try:
        return plan_render(layer, area, gsd_m)
    except PluginError as exc:
        raise QgsProcessingException(exc.message) from None


def render_layer(job: RenderJob, feedback: QgsProcessingFeedback) -> None:
    """Write the rendered GeoTIFF with the algorithm's progress (its first few %) and cancel.

    Raises:
        QgsProcessingException: cancelled, or the layer drew nothing or cannot be read (the
            caller's :meth:`RenderJob.cleanup` removes what was written).

    """
    block = QgsRasterBlockFeedback()
    # Direct connections: Processing may run the algorithm in a worker thread that is busy in
    # the writer, so a queued cancel would never be delivered.
    direct = Qt.ConnectionType.DirectConnection
    feedback.canceled.connect(block.cancel, direct)
    block.progressChanged.connect(
        lambda p: feedback.setProgress(p * RenderingTask.RENDER_SHARE), direct
    )
    feedback.setProgressText(tr("rendering {name}").format(name=job.name))
    try:
        if not feedback.isCanceled():
            job.run(block)
    except PluginError as exc:
        raise QgsProcessingException(exc.message) from None
    finally:
        feedback.canceled.disconnect(block.cancel)
    if feedback.isCanceled() or block.isCanceled():
        raise QgsProcessingException(
            tr("Cancelled by the user while rendering {name}: nothing was written.").format(
                name=repr(job.name)
            )
        )
