"""Web and virtual raster layers as Processing inputs: accept, plan the rendering, render.

*Segment roads* and *Adapt model* share this: a web (XYZ/WMS/WMTS) or virtual raster layer
has no file the engine could read, so it is rendered over the area at the working
resolution into a temporary GeoTIFF (``gui.render``: the layer's maximum zoom respected,
the grid in a metric CRS), with the algorithm's progress and cancel; the caller runs the
engine on it and removes it with :meth:`RenderJob.cleanup` however the run ends.
"""

from __future__ import annotations

from typing import Any

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
from ..core.protocol import ForwardProgress
from ..gui.area import Area
from ..gui.render import (
    RenderJob,
    layer_offer,
    needs_render,
    plan_render,
    render_with_progress,
)
from .base import StageMapper, raster_file, run_cli


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
    context: QgsProcessingContext,
    feedback: QgsProcessingFeedback,
) -> RenderJob:
    """Plan rendering ``layer`` over ``area`` at ``gsd_m``; log what the layer really offers.

    Args:
        layer: The web or virtual layer.
        area: The area to render, in the layer's CRS.
        gsd_m: The working resolution (m/px); 0 when the model does not give one.
        model: The model's label (for the message when ``gsd_m`` is 0).
        fix: What the user can do when ``gsd_m`` is 0 (the end of that message).
        context: The algorithm's context (its datum transforms).
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
    transforms = context.transformContext()
    feedback.pushInfo(layer_offer(layer, area, gsd_m, transforms).text())
    try:
        return plan_render(layer, area, gsd_m, transforms)
    except PluginError as exc:
        raise QgsProcessingException(exc.message) from None


def render_layer(job: RenderJob, feedback: QgsProcessingFeedback, bar: ForwardProgress) -> None:
    """Write the rendered GeoTIFF with the algorithm's progress (its first few %) and cancel.

    ``bar`` sets the feedback's progress; :func:`run_rendered` continues it for the engine.

    Raises:
        QgsProcessingException: cancelled, or the layer drew nothing or cannot be read (the
            caller's :meth:`RenderJob.cleanup` removes what was written).

    """
    block = QgsRasterBlockFeedback()
    if feedback.isCanceled():
        block.cancel()
    # Direct: Processing may run the algorithm in a worker thread that is busy in the writer.
    feedback.canceled.connect(block.cancel, Qt.ConnectionType.DirectConnection)
    feedback.setProgressText(tr("rendering {name}").format(name=job.name))
    try:
        rendered = render_with_progress(job, block, bar)
    except PluginError as exc:
        raise QgsProcessingException(exc.message) from None
    finally:
        feedback.canceled.disconnect(block.cancel)
    if not rendered or feedback.isCanceled():
        raise QgsProcessingException(
            tr("Cancelled by the user while rendering {name}: nothing was written.").format(
                name=repr(job.name)
            )
        )


def run_rendered(
    render: RenderJob | None,
    argv: list[str],
    feedback: QgsProcessingFeedback,
    vectorize: bool = False,
    mapper: StageMapper | None = None,
) -> dict[str, Any]:
    """Render the web or virtual layer (when there is one), then run the engine on it.

    One progress bar: the rendering's share first, the engine's progress after it, never
    back. The rendered GeoTIFF is removed however the run ends. Returns the engine's JSON.
    """
    bar = ForwardProgress(feedback.setProgress)
    try:
        if render is not None:
            render_layer(render, feedback, bar)
        return run_cli(argv, feedback, vectorize, bar, mapper)
    finally:
        if render is not None:
            render.cleanup()
