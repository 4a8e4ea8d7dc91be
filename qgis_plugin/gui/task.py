"""The background task: one ``roadseg predict`` subprocess inside a QgsTask.

``run()`` executes in a worker thread (QGIS stays responsive): it streams the
engine's JSON progress lines to the task's progress bar, kills the engine when
the task is cancelled, and moves the run's files out of their staging folder
only on success. ``finished()`` runs back in the main thread and hands the task
to a callback that adds layers or reports the failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from qgis.core import Qgis, QgsMessageLog, QgsTask

from ..core import outputs
from ..core.commands import models_argv
from ..core.errors import PluginError
from ..core.params import RunParameters
from ..core.process import EngineResult, run_engine
from ..core.protocol import ProgressLine, ProgressMapper
from .model_info import models_from_json

LOG_TAG = "roadseg"


class PredictTask(QgsTask):
    """Run ``roadseg predict`` for one :class:`RunParameters`.

    Attributes:
        result: The engine result once ``run()`` returns.
        error: A plugin error raised while running (e.g. the engine could not start).
        raster, vectors: Final output paths on success.
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
    ) -> None:
        super().__init__(f"roadseg: {params.run_name}", QgsTask.CanCancel)
        self.params = params
        self.argv = list(argv)
        self.env = env
        self.paths = paths
        self.on_done = on_done
        self.engine = tuple(engine)
        self.model_info = model_info
        self.result: EngineResult | None = None
        self.error: PluginError | None = None
        self.raster = None
        self.vectors = None
        self.last_stage = ""
        self._mapper = ProgressMapper(vectorize=params.outputs.vectors)

    def _progress(self, line: ProgressLine) -> None:
        self.setProgress(self._mapper.percent(line))
        self.last_stage = f"{line.stage} {line.done}/{line.total} {line.message}".strip()

    def _log(self, line: str) -> None:
        QgsMessageLog.logMessage(line, LOG_TAG, Qgis.Info, False)

    def run(self) -> bool:
        """Run the engine (worker thread); True on success."""
        try:
            self.result = run_engine(
                self.argv,
                env=self.env,
                on_progress=self._progress,
                on_log=self._log,
                is_cancelled=self.isCanceled,
            )
            if not self.result.ok:
                outputs.discard(self.paths)
                return False
            self.raster, self.vectors = outputs.commit(
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
                f"Unexpected error while running roadseg: {exc!r}", level="critical"
            )
        outputs.discard(self.paths)
        return False

    def _describe_model(self) -> dict[str, Any] | None:
        """Return the model's classes and colours from the engine (when the dialog had none)."""
        res = run_engine(models_argv(self.engine, self.params.model), env=self.env)
        entries = models_from_json(res.result) if res.ok else []
        name = self.params.model or "default"
        for entry in entries:
            if entry.get("name") in (None, name) or entry.get("path") == name:
                return entry
        return entries[0] if entries else None

    def finished(self, ok: bool) -> None:  # noqa: FBT001 - QgsTask API
        """Back in the main thread: hand over to the plugin."""
        if not ok and self.isCanceled():
            outputs.discard(self.paths)
        self.on_done(self)
