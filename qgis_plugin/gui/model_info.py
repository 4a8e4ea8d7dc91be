"""Model descriptions from the engine (``roadseg models --json``), fetched without blocking.

A QProcess runs the engine in the background; the dialog shows the classes and
the resolution once the answer arrives.
"""

from __future__ import annotations

from typing import Any

from qgis.PyQt.QtCore import QObject, QProcess, QProcessEnvironment, pyqtSignal

from ..core.commands import models_argv
from ..core.engine import EngineCommand, engine_env
from ..core.protocol import last_json_object, parse_error


def describe(info: dict[str, Any] | None) -> str:
    """One line about a model: classes, resolution, tile size.

    >>> describe({"classes": ["background", "major", "minor"], "gsd_m": 0.5, "tile_size": 512})
    'Classes: major, minor · 0.5 m/px · tile 512 px'
    """
    if not info:
        return "No model information."
    classes = [str(c) for c in info.get("classes", [])[1:]]
    parts = [f"Classes: {', '.join(classes) if classes else '?'}"]
    if info.get("gsd_m"):
        parts.append(f"{float(info['gsd_m']):g} m/px")
    if info.get("tile_size"):
        parts.append(f"tile {int(info['tile_size'])} px")
    return " · ".join(parts)


def models_from_json(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Return the model entries of a ``roadseg models --json`` answer (also a bare model object).

    >>> models_from_json({"models": [{"name": "default", "classes": ["background"]}]})[0]["name"]
    'default'
    >>> models_from_json({"name": "x.safetensors", "classes": ["background", "road"]})[0]["name"]
    'x.safetensors'
    """
    if not obj:
        return []
    if isinstance(obj.get("models"), list):
        return [m for m in obj["models"] if isinstance(m, dict)]
    if isinstance(obj.get("model"), dict):
        return [obj["model"]]
    if "classes" in obj:
        return [obj]
    return []


class ModelInfoLoader(QObject):
    """Runs ``roadseg models --json [FILE]`` in a QProcess.

    Signals:
        loaded(list, str): the model entries and an error message ("" on success).
    """

    loaded = pyqtSignal(list, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process: QProcess | None = None
        self.models: list[dict[str, Any]] = []
        self.error = ""
        self.done = False

    def start(self, engine: EngineCommand, model_file: str | None = None) -> None:
        """Start fetching (a previous request is abandoned)."""
        self.stop()
        self.done = False
        argv = models_argv(engine.argv, model_file)
        proc = QProcess(self)
        env = QProcessEnvironment()
        for k, v in engine_env().items():
            env.insert(k, v)
        proc.setProcessEnvironment(env)
        proc.finished.connect(lambda code, _status, p=proc: self._finished(p, code))
        proc.errorOccurred.connect(lambda _err, p=proc: self._failed(p))
        self.process = proc
        proc.start(argv[0], argv[1:])

    def stop(self) -> None:
        """Abandon a running request."""
        if self.process is not None:
            proc, self.process = self.process, None
            try:
                proc.finished.disconnect()
                proc.errorOccurred.disconnect()
            except TypeError:
                pass
            if proc.state() != QProcess.NotRunning:
                proc.kill()
                proc.waitForFinished(2000)
            proc.deleteLater()

    def wait(self, timeout_ms: int = 60000) -> bool:
        """Block until the answer arrived (tests and scripts); True if it did."""
        if self.process is not None and not self.done:
            self.process.waitForFinished(timeout_ms)
        return self.done

    def _failed(self, proc: QProcess) -> None:
        if proc is not self.process or proc.error() != QProcess.FailedToStart:
            return
        self._emit([], f"cannot start the engine: {proc.errorString()}")

    def _finished(self, proc: QProcess, code: int) -> None:
        if proc is not self.process:
            return
        out = bytes(proc.readAllStandardOutput()).decode("utf-8", "replace")
        err = bytes(proc.readAllStandardError()).decode("utf-8", "replace")
        obj = last_json_object(out)
        error = parse_error(obj) if obj else None
        if code != 0 or error is not None:
            msg = error.message if error else (err.strip().splitlines() or [f"exit {code}"])[-1]
            self._emit([], msg)
        else:
            models = models_from_json(obj)
            why = str((obj or {}).get("message") or "the engine listed no models")
            self._emit(models, "" if models else why)

    def _emit(self, models: list[dict[str, Any]], error: str) -> None:
        self.models, self.error, self.done = models, error, True
        self.loaded.emit(models, error)
