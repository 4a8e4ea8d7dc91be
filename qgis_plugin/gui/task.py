"""The background task: one ``roadseg predict`` subprocess inside a QgsTask.

``run()`` executes in a worker thread (QGIS stays responsive): it streams the
engine's JSON progress lines to the task's progress bar, stops the engine when the
task is cancelled, and renames the run's staging folder into place only on success.
``finished()`` runs back in the main thread and hands the task to a callback that
adds layers or reports the failure. A cancelled run ends as a *completed* task
(QGIS would otherwise announce "Task failed"); the plugin reports it as cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..core import outputs
from ..core.commands import model_info_argv, models_argv
from ..core.errors import PluginError
from ..core.i18n import tr
from ..core.params import RunParameters
from ..core.process import EngineResult, run_engine
from ..core.protocol import ProgressLine, ProgressMapper
from .messages import LOG_TAG, log
from .model_info import models_from_json
from .render import RenderingTask, RenderJob

__all__ = ["LOG_TAG", "PredictTask"]


class PredictTask(RenderingTask):
    """Run ``roadseg predict`` for one :class:`RunParameters`.

    Attributes:
        result: The engine result once ``run()`` returns.
        error: A plugin error raised while running (e.g. the engine could not start).
        paths: The run's files (final names once it succeeded).
        raster, vectors: Final output paths on success (None for those not written).
        render: The web or virtual layer to render into the engine's input first (its
            temporary GeoTIFF is removed when the run ends, whatever the outcome).
        cancelled: Whether the user cancelled the run.
        last_stage: The last progress message (for the task manager's description).

    """

    def __init__(
        self,
        params: RunParameters,
        argv: Sequence[str],
        env: dict[str, str],
        paths: outputs.RunPaths,
        on_done: Callable[[PredictTask], None],
        engine: Sequence[str] = (),
        model_info: dict[str, Any] | None = None,
        render: RenderJob | None = None,
    ) -> None:
        super().__init__(tr("roadseg: {name}").format(name=params.run_name), render)
        self.params = params
        self.argv = list(argv)
        self.env = env
        self.paths = paths
        self.on_done = on_done
        self.engine = tuple(engine)
        self.model_info = model_info
        self.result: EngineResult | None = None
        self.error: PluginError | None = None
        self.raster: Path | None = None
        self.vectors: Path | None = None
        self.cancelled = False
        self._mapper = ProgressMapper(vectorize=params.outputs.vectors)

    def _progress(self, line: ProgressLine) -> None:
        stage = f"{line.stage} {line.done}/{line.total} {line.message}".strip()
        self.engine_progress(self._mapper.percent(line), stage)

    def work(self) -> bool:
        """Render a web or virtual layer, run the engine (worker thread); True unless it failed."""
        try:
            if not self.rendered():
                self.cancelled = True
                outputs.discard(self.paths)
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
                outputs.discard(self.paths)
                return True
            if not self.result.ok:
                outputs.discard(self.paths)
                return False
            self.paths, self.raster, self.vectors = outputs.commit(
                self.paths,
                keep_raster=self.params.outputs.class_raster,
                keep_vectors=self.params.outputs.vectors,
            )
            if self.model_info is None and self.engine:
                self.model_info = self._describe_model()
            return True
        except PluginError as exc:
            self.error = exc
        except Exception as exc:  # noqa: BLE001 - a worker thread must never raise into Qt
            self.error = PluginError(
                tr("Unexpected error while running roadseg: {error}").format(error=repr(exc)),
                level="critical",
            )
        outputs.discard(self.paths)
        return False

    def _describe_model(self) -> dict[str, Any] | None:
        """Return the model's classes and colours from the engine (when the dialog had none)."""
        model = self.params.model
        argv = model_info_argv(self.engine, model) if model else models_argv(self.engine)
        res = run_engine(argv, env=self.env)
        entries = models_from_json(res.result) if res.ok else []
        for entry in entries:
            if entry.get("name") in (None, model or "default"):
                return entry
        return entries[0] if entries else None

    def finished(self, ok: bool) -> None:  # noqa: FBT001 - QgsTask API
        """Back in the main thread: hand over to the plugin."""
        if not ok and self.isCanceled():
            self.cancelled = True
            outputs.discard(self.paths)
        self.drop_render()  # also when the task was cancelled before it ran
        self.on_done(self)
