"""The task of Adapt model / Retrain from corrections: one ``roadseg adapt`` (an EngineTask).

Like the Map roads task, a web or virtual layer is first rendered into a temporary
GeoTIFF. The work folder (exported roads and area) is removed at the end; a cancelled or
failed run leaves no model file either.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from ..core.adapt import AdaptOutcome, AdaptParameters, AdaptProgress
from ..core.i18n import tr
from ..core.process import EngineResult
from ..core.protocol import ProgressLine
from .engine_task import EngineTask
from .render import RenderJob


class AdaptTask(EngineTask):
    """Run ``roadseg adapt`` for one :class:`AdaptParameters`.

    Attributes:
        params: The run's parameters.
        work_dir: The folder of the exported roads and area (removed at the end).
        outcome: The before → after figures of a successful run.

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
        super().__init__(title.format(name=params.name), argv, env, on_done, render)
        self.params = params
        self.work_dir = work_dir
        self.outcome: AdaptOutcome | None = None
        self._spans = AdaptProgress()

    def percent_and_stage(self, line: ProgressLine) -> tuple[float, str]:
        """The bar after ``line``: the adapt spans; the stage with its message."""
        return self._spans.percent(line), f"{line.stage}: {line.message}".strip()

    def keep(self, result: EngineResult) -> bool:
        """Read the before → after figures; False without the engine's JSON."""
        if result.result is None:
            return False
        self.outcome = AdaptOutcome.from_json(result.result)
        return True

    def discard(self) -> None:
        """Remove the model file (a failed or cancelled run leaves none)."""
        Path(self.params.out_path).unlink(missing_ok=True)

    def finished(self, ok: bool) -> None:  # noqa: FBT001 - QgsTask API
        """Back in the main thread: clean the work folder, hand over to the plugin."""
        shutil.rmtree(self.work_dir, ignore_errors=True)
        super().finished(ok)
