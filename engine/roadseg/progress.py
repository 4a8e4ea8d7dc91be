"""Progress and cancellation: callbacks in the engine, rendered by the front ends.

The engine calls :meth:`Reporter.update` as work advances and
:meth:`Reporter.check` between units of work. Front ends pass plain callables:
the CLI renders events as a bar or JSON lines, the QGIS plugin maps them to
``QgsTask.setProgress`` and ``QgsTask.isCanceled``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from roadseg.errors import CancelledError


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One step of progress.

    Attributes:
        stage: Short machine name of the stage (``"predict"``, ``"vectorize"``, ...).
        done: Units done so far in this stage.
        total: Units in this stage (0 when unknown).
        message: Human-readable detail.

    """

    stage: str
    done: int
    total: int
    message: str = ""

    @property
    def fraction(self) -> float:
        """Done as a fraction of total (0 when total is unknown).

        >>> ProgressEvent("predict", 1, 4).fraction
        0.25
        """
        return self.done / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return the event as the JSON-line contract's object."""
        return asdict(self)


ProgressCallback = Callable[[ProgressEvent], None]
CancelCallback = Callable[[], bool]


class Reporter:
    """Forwards progress to an optional callback and honours an optional cancel check.

    Args:
        progress: Called with each :class:`ProgressEvent`.
        cancel: Returns True when the user asked to stop.

    """

    def __init__(
        self, progress: ProgressCallback | None = None, cancel: CancelCallback | None = None
    ) -> None:
        self._progress = progress
        self._cancel = cancel

    def update(self, stage: str, done: int, total: int, message: str = "") -> None:
        """Report progress, then honour a pending cancel."""
        if self._progress is not None:
            self._progress(ProgressEvent(stage, int(done), int(total), message))
        self.check()

    def check(self) -> None:
        """Raise :class:`CancelledError` if the cancel callback says so."""
        if self._cancel is not None and self._cancel():
            raise CancelledError("cancelled by the user; no output was written")

    def sub(self, stage_prefix: str) -> Reporter:
        """Return a reporter that prefixes stage names (for nested steps)."""
        parent = self

        def forward(ev: ProgressEvent) -> None:
            if parent._progress is not None:
                parent._progress(
                    ProgressEvent(f"{stage_prefix}{ev.stage}", ev.done, ev.total, ev.message)
                )

        return Reporter(forward, self._cancel)
