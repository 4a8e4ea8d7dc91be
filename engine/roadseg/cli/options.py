"""Options and output helpers shared by every subcommand.

Contract (tested on both sides with the QGIS plugin):

* ``--json``: the LAST line of standard output is one JSON object with the paths
  written (``"outputs"``, ``"model"``) and figures (``"metrics"``, timings).
* ``--progress json``: one JSON object a line on standard error while working:
  ``{"type": "progress", "stage": ..., "done": ..., "total": ..., "message": ...}``.
* On failure: exit status non-zero (1 bad input, 2 usage, 130 cancelled, 3 internal
  error) and, with ``--json`` or ``--progress json``, a final line on standard output
  ``{"type": "error", "error": CLASS, "message": ...}``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from roadseg.progress import ProgressEvent

F = TypeVar("F", bound=Callable[..., Any])


def json_option(f: F) -> F:
    """Add ``--json``: print one JSON object as the last line of stdout."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON object with outputs and figures."
    )(f)


def progress_option(f: F) -> F:
    """Add ``--progress bar|json|none``."""
    return click.option(
        "--progress",
        type=click.Choice(["bar", "json", "none"]),
        default="bar",
        show_default=True,
        help="Progress as a bar on stderr, JSON lines on stderr, or nothing.",
    )(f)


def emit_json(obj: dict[str, Any]) -> None:
    """Print the final JSON object (one line) on stdout."""
    click.echo(json.dumps(obj, default=_json_default))


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


class ProgressRenderer:
    """Render engine progress events as a text bar or JSON lines on stderr."""

    def __init__(self, mode: str = "bar") -> None:
        self.mode = mode
        self._last_stage: str | None = None
        self._last_pct = -1

    def __call__(self, ev: ProgressEvent) -> None:
        """Render one event."""
        if self.mode == "none":
            return
        if self.mode == "json":
            line = {"type": "progress", **ev.as_dict()}
            sys.stderr.write(json.dumps(line) + "\n")
            sys.stderr.flush()
            return
        if not sys.stderr.isatty() and ev.total and ev.done not in (0, ev.total):
            # Not a terminal: only report stage starts and ends to keep logs short.
            return
        pct = int(100 * ev.fraction) if ev.total else 0
        if ev.stage == self._last_stage and pct == self._last_pct:
            return
        self._last_stage, self._last_pct = ev.stage, pct
        width = 30
        filled = int(width * ev.fraction)
        bar = "#" * filled + "-" * (width - filled)
        end = "\n" if ev.total and ev.done >= ev.total else ""
        sys.stderr.write(
            f"\r{ev.stage:<12} [{bar}] {ev.done}/{ev.total} {ev.message[:40]:<40}{end}"
        )
        sys.stderr.flush()

    def __enter__(self) -> ProgressRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Finish the line of a bar."""
        if self.mode == "bar" and self._last_stage is not None and sys.stderr.isatty():
            sys.stderr.write("\n")
