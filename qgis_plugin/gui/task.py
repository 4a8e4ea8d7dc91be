"""The Map roads task: one ``roadseg predict`` run (an :class:`EngineTask`).

The engine writes into the run's staging folder; on success it is renamed into place
(:func:`outputs.commit`), on failure or cancel it is removed. When the dialog did not know
the model's classes and colours, the engine is asked for them once the run succeeded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..core import outputs
from ..core.commands import model_info_argv, models_argv
from ..core.i18n import tr
from ..core.params import RunParameters
from ..core.process import EngineResult, run_engine
from ..core.protocol import ProgressLine, ProgressMapper
from .engine_task import EngineTask
from .messages import LOG_TAG
from .model_info import models_from_json
from .render import RenderJob

__all__ = ["LOG_TAG", "PredictTask"]


class PredictTask(EngineTask):
    """Run ``roadseg predict`` for one :class:`RunParameters`.

    Attributes:
        params: The run's parameters.
        paths: The run's files (final names once it succeeded).
        raster, vectors: Final output paths on success (None for those not written).
        engine: The engine command (to ask for the model's description).
        model_info: The model's classes and colours (asked from the engine when None).

    The rendered web or virtual layer's temporary GeoTIFF is removed when the run ends,
    whatever the outcome (:class:`EngineTask`).

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
        super().__init__(
            tr("roadseg: {name}").format(name=params.run_name), argv, env, on_done, render
        )
        self.params = params
        self.paths = paths
        self.engine = tuple(engine)
        self.model_info = model_info
        self.raster: Path | None = None
        self.vectors: Path | None = None
        self._mapper = ProgressMapper(vectorize=params.outputs.vectors)

    def percent_and_stage(self, line: ProgressLine) -> tuple[float, str]:
        """The bar after ``line``: the predict/vectorise spans; the stage with its count."""
        stage = f"{line.stage} {line.done}/{line.total} {line.message}".strip()
        return self._mapper.percent(line), stage

    def keep(self, result: EngineResult) -> bool:
        """Move the staged outputs into place; ask for the model's description if needed."""
        self.paths, self.raster, self.vectors = outputs.commit(
            self.paths,
            keep_raster=self.params.outputs.class_raster,
            keep_vectors=self.params.outputs.vectors,
        )
        if self.model_info is None and self.engine:
            self.model_info = self._describe_model()
        return True

    def discard(self) -> None:
        """Remove the staging folder (and whatever the engine wrote)."""
        outputs.discard(self.paths)

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


class FitTask(EngineTask):
    """Render the centre of a web or virtual layer's area, then run ``roadseg check-fit`` on it.

    A check writes nothing: a successful run keeps its answer (``result``), a failed or
    cancelled one leaves nothing but the rendering, which :class:`EngineTask` removes.
    """

    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        on_done: Callable[[FitTask], None],
        render: RenderJob,
    ) -> None:
        super().__init__(tr("roadseg: check fit"), argv, env, on_done, render)
        self._mapper = ProgressMapper(vectorize=False)

    def percent_and_stage(self, line: ProgressLine) -> tuple[float, str]:
        """The bar after ``line`` and the stage with its count."""
        return self._mapper.percent(line), f"{line.stage} {line.done}/{line.total}".strip()

    def keep(self, result: EngineResult) -> bool:
        """Nothing to keep but the answer."""
        return True

    def discard(self) -> None:
        """Nothing was written."""
