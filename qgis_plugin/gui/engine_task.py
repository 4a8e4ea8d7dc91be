"""The background task of one engine command: render a web or virtual layer, run, keep.

Map roads (``roadseg predict``) and Adapt model / Retrain from corrections (``roadseg
adapt``) share it. ``run()`` executes in a worker thread (QGIS stays responsive): it
renders the layer into a temporary GeoTIFF when there is one (``gui.render``), streams the
engine's JSON progress lines to the task's bar (never back: the rendering fills its start),
stops the engine when the task is cancelled, then keeps what the run wrote, or discards it
on failure and cancel. ``finished()`` runs back in the main thread and hands the task to a
callback. A cancelled run ends as a *completed* task (QGIS would otherwise announce "Task
failed"); the plugin reports it as cancelled. The rendered GeoTIFF is removed whatever the
outcome, also when the task is cancelled before it started.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from qgis.core import QgsRasterBlockFeedback, QgsTask

from ..core.errors import PluginError
from ..core.i18n import tr
from ..core.process import EngineResult, run_engine
from ..core.protocol import ForwardProgress, ProgressLine
from .messages import log
from .render import RenderJob, render_with_progress


class EngineTask(QgsTask):
    """Run one engine command, after rendering its web or virtual layer when it has one.

    Subclasses say what a progress line shows (:meth:`percent_and_stage`), what a
    successful run keeps (:meth:`keep`) and what a failed or cancelled one leaves
    behind (:meth:`discard`).

    Attributes:
        argv, env: The engine command and its environment.
        render: The rendering to do first (None for a raster file).
        on_done: Called with the task in the main thread when it ended.
        result: The engine result once ``run()`` returns.
        error: A plugin error raised while running (e.g. the engine could not start).
        cancelled: Whether the user cancelled the run.
        last_stage: The last progress message (for the task manager's description).

    """

    def __init__(
        self,
        title: str,
        argv: Sequence[str],
        env: dict[str, str],
        on_done: Callable[[Any], None],
        render: RenderJob | None,
    ) -> None:
        super().__init__(title, QgsTask.Flag.CanCancel)
        self.argv = list(argv)
        self.env = env
        self.on_done = on_done
        self.render = render
        self.result: EngineResult | None = None
        self.error: PluginError | None = None
        self.cancelled = False
        self.last_stage = ""
        self._feedback = QgsRasterBlockFeedback()
        self._bar = ForwardProgress(self.setProgress)

    # -- what subclasses say ----------------------------------------------------------
    def percent_and_stage(self, line: ProgressLine) -> tuple[float, str]:
        """The bar's percentage and the stage text after one engine progress line."""
        raise NotImplementedError

    def keep(self, result: EngineResult) -> bool:
        """Keep what a successful run wrote (worker thread); False when it is not usable."""
        raise NotImplementedError

    def discard(self) -> None:
        """Remove what a failed or cancelled run wrote (either thread)."""
        raise NotImplementedError

    # -- the run ------------------------------------------------------------------------
    def cancel(self) -> None:
        """Cancel the run (and a rendering in progress)."""
        self._feedback.cancel()
        super().cancel()

    def _progress(self, line: ProgressLine) -> None:
        percent, self.last_stage = self.percent_and_stage(line)
        self._bar(percent)

    def _rendered(self) -> bool:
        """Render the layer (worker thread); False when cancelled. Raises PluginError."""
        if self.render is None:
            return True
        self.last_stage = tr("rendering {name}").format(name=self.render.name)
        done = render_with_progress(self.render, self._feedback, self._bar)
        return done and not self.isCanceled()

    def _work(self) -> bool:
        if not self._rendered():
            self.cancelled = True
            self.discard()
            return True
        self.result = run_engine(
            self.argv,
            env=self.env,
            on_progress=self._progress,
            on_log=log,
            is_cancelled=self.isCanceled,
        )
        if self.result.cancelled or self.isCanceled():
            self.cancelled = True
            self.discard()
            return True
        if self.result.ok and self.keep(self.result):
            return True
        self.discard()
        return False

    def run(self) -> bool:
        """Render, run the engine, keep (worker thread); True unless it failed."""
        try:
            return self._work()
        except PluginError as exc:
            self.error = exc
        except Exception as exc:  # noqa: BLE001 - a worker thread must never raise into Qt
            self.error = PluginError(
                tr("Unexpected error while running roadseg: {error}").format(error=repr(exc)),
                level="critical",
            )
        finally:
            self.drop_render()
        self.discard()
        return False

    def drop_render(self) -> None:
        """Remove the rendered GeoTIFF (nothing when there is none)."""
        if self.render is not None:
            self.render.cleanup()

    def finished(self, ok: bool) -> None:  # noqa: FBT001 - QgsTask API
        """Back in the main thread: hand over to the plugin."""
        if not ok and self.isCanceled():
            self.cancelled = True
            self.discard()
        self.drop_render()  # also when the task was cancelled before it ran
        self.on_done(self)
