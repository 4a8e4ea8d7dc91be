"""The background task of Adapt model / Retrain from corrections: one ``roadseg adapt``.

Like the Map roads task: ``run()`` streams the engine's progress into the task's
bar in a worker thread and stops the engine on cancel; ``finished()`` hands the task
back to the plugin in the main thread. A web or virtual layer is first rendered into a
temporary GeoTIFF (as Map roads does). The work folder (exported roads and area) and the
rendered GeoTIFF are removed at the end; a cancelled or failed run leaves no model file
either.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from ..core.adapt import AdaptOutcome, AdaptParameters, AdaptProgress
from ..core.errors import PluginError
from ..core.i18n import tr
from ..core.process import EngineResult, run_engine
from ..core.protocol import ProgressLine
from .messages import log
from .render import RenderingTask, RenderJob


class AdaptTask(RenderingTask):
    """Run ``roadseg adapt`` for one :class:`AdaptParameters`.

    Attributes:
        result: The engine result once ``run()`` returns.
        outcome: The before → after figures of a successful run.
        error: A plugin error raised while running (e.g. the engine could not start).
        render: The web or virtual layer to render into the engine's input first.
        cancelled: Whether the user cancelled the run.
        last_stage: The last progress message.

    """

    def __init__(
        self,
        params: AdaptParameters,
        argv: Sequence[str],
        env: dict[str, str],
        work_dir: Path,
        on_done: Callable[[AdaptTask], None],
        render: RenderJob | None = None,
    ) -> None:
        title = (
            tr("roadseg: retrain {name}")
            if params.mode == "retrain"
            else tr("roadseg: adapt {name}")
        )
        super().__init__(title.format(name=params.name), render)
        self.params = params
        self.argv = list(argv)
        self.env = env
        self.work_dir = work_dir
        self.on_done = on_done
        self.result: EngineResult | None = None
        self.outcome: AdaptOutcome | None = None
        self.error: PluginError | None = None
        self.cancelled = False
        self._bar = AdaptProgress()

    def _progress(self, line: ProgressLine) -> None:
        self.engine_progress(self._bar.percent(line), f"{line.stage}: {line.message}".strip())

    def _drop_model(self) -> None:
        Path(self.params.out_path).unlink(missing_ok=True)

    def work(self) -> bool:
        """Render a web or virtual layer, run the engine (worker thread); True unless it failed."""
        try:
            if not self.rendered():
                self.cancelled = True
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
                self._drop_model()
                return True
            if not self.result.ok or self.result.result is None:
                self._drop_model()
                return False
            self.outcome = AdaptOutcome.from_json(self.result.result)
            return True
        except PluginError as exc:
            self.error = exc
        except Exception as exc:  # noqa: BLE001 - a worker thread must never raise into Qt
            self.error = PluginError(
                tr("Unexpected error while running roadseg: {error}").format(error=repr(exc)),
                level="critical",
            )
        self._drop_model()
        return False

    def finished(self, ok: bool) -> None:  # noqa: FBT001 - QgsTask API
        """Back in the main thread: clean the work folder, hand over to the plugin."""
        if not ok and self.isCanceled():
            self.cancelled = True
            self._drop_model()
        shutil.rmtree(self.work_dir, ignore_errors=True)
        self.drop_render()  # also when the task was cancelled before it ran
        self.on_done(self)
