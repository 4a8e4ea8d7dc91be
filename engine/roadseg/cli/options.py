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
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from roadseg.cli.errors import render
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


def overwrite_option(f: F) -> F:
    """Add ``--overwrite``: replace existing outputs (else the command refuses to start)."""
    return click.option(
        "--overwrite",
        is_flag=True,
        help="Replace existing outputs (without it, existing files are kept and the command "
        "refuses to start).",
    )(f)


@contextmanager
def interrupt_as_cancel() -> Iterator[Callable[[], bool]]:
    """Turn the first Ctrl-C (or SIGTERM) into a cancel request; a second Ctrl-C aborts.

    Yields the cancel callback. The engine then stops at its next check, removes its
    temporary files and raises CancelledError (exit status 130).
    """
    state = {"cancel": False}

    def handler(signum: int, frame: Any) -> None:
        state["cancel"] = True
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    old: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            old[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread (embedded use): no handler
            pass
    try:
        yield lambda: state["cancel"]
    finally:
        for signum, h in old.items():
            signal.signal(signum, h)


def emit_json(obj: dict[str, Any]) -> None:
    """Print the final JSON object (one line) on stdout."""
    click.echo(json.dumps(obj, default=_json_default))


def warn_or_emit(result: Any, as_json: bool) -> bool:
    """Print ``result``'s warnings on stderr; under ``--json`` also its JSON object (True).

    ``result`` has ``warnings`` and ``as_dict()`` (a prediction's, a fit check's).
    """
    for w in result.warnings:
        click.echo(f"Warning: {render(w)}", err=True)
    if as_json:
        emit_json({**result.as_dict(), "warnings": [render(w) for w in result.warnings]})
    return as_json


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


#: Units of the progress bar per stage.
_UNITS = {"predict": "tile", "check": "tile", "train": "step", "validate": "batch"}


class ProgressRenderer:
    """Render engine progress events as a bar (tqdm: rate, ETA, terminal width) or JSON lines.

    On a terminal each stage gets a tqdm bar; when standard error is not a terminal
    (logs, pipes) nothing is drawn: standard error then holds only warnings and the
    error line, and ``--progress json`` gives machine-readable progress.
    """

    def __init__(self, mode: str = "bar") -> None:
        self.mode = mode
        self._stage: str | None = None
        self._bar: Any = None

    def __call__(self, ev: ProgressEvent) -> None:
        """Render one event."""
        if self.mode == "none":
            return
        if self.mode == "json":
            line = {"type": "progress", **ev.as_dict()}
            sys.stderr.write(json.dumps(line) + "\n")
            sys.stderr.flush()
            return
        if not sys.stderr.isatty():
            return  # not a terminal (a log, a pipe): no bar; `--progress json` gives lines
        self._tqdm(ev)

    def _tqdm(self, ev: ProgressEvent) -> None:
        from tqdm import tqdm

        total = ev.total or None
        if self._bar is None or ev.stage != self._stage or self._bar.total != total:
            self.close()
            self._stage = ev.stage
            self._bar = tqdm(
                total=total,
                desc=ev.stage,
                unit=_UNITS.get(ev.stage, "step"),
                file=sys.stderr,
                dynamic_ncols=True,
                leave=True,
            )
        bar = self._bar
        if ev.message:
            bar.set_postfix_str(ev.message[:40], refresh=False)
        if ev.done >= bar.n:
            bar.update(ev.done - bar.n)
        else:  # a stage that restarted its count
            bar.reset(total=total)
            bar.update(ev.done)

    def __enter__(self) -> ProgressRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Finish the current bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
