"""Model descriptions from the engine, fetched without blocking the dialog.

``roadseg models --json`` lists the embedded models; ``roadseg models --info FILE
--json`` describes (and loads) a model file. A QProcess runs the engine in the
background (:class:`EngineQuery`, also behind the dialog's *Check fit*); the dialog shows
the classes and the resolution once the answer arrives.
"""

from __future__ import annotations

from typing import Any

from qgis.PyQt.QtCore import QObject, QProcess, QProcessEnvironment, pyqtSignal

from ..core.commands import model_info_argv, models_argv
from ..core.engine import EngineCommand, engine_env
from ..core.i18n import tr
from ..core.protocol import last_json_object, parse_error


def models_from_json(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Return the model entries of a ``roadseg models --json`` answer (also a bare model object).

    >>> models_from_json({"models": [{"name": "default", "classes": ["background"]}]})[0]["name"]
    'default'
    >>> models_from_json({"path": "/m/x.safetensors", "classes": ["background", "road"]})[0]["name"]
    'x.safetensors'
    """
    if not obj:
        return []
    if isinstance(obj.get("models"), list):
        return [m for m in obj["models"] if isinstance(m, dict)]
    if isinstance(obj.get("model"), dict):
        return [obj["model"]]
    if "classes" in obj:
        name = obj.get("name") or str(obj.get("path", "")).replace("\\", "/").rsplit("/", 1)[-1]
        return [{**obj, "name": name}]
    return []


def model_gsd(models: list[dict[str, Any]], model: str = "default") -> float:
    """Return the resolution (m/px) of ``model`` in an answer (0 when it does not say).

    ``default`` is looked up by name among the embedded models; a file is the answer's model.

    >>> model_gsd([{"name": "other", "gsd_m": 1.0}, {"name": "default", "gsd_m": 0.5}])
    0.5
    >>> model_gsd([{"name": "m.safetensors", "gsd_m": 0.3}], "/x/m.safetensors"), model_gsd([])
    (0.3, 0.0)
    """
    entry = next((m for m in models if model != "default" or m.get("name") == "default"), None)
    try:
        return max(0.0, float((entry or {}).get("gsd_m") or 0.0))
    except (TypeError, ValueError):
        return 0.0


class EngineQuery(QObject):
    """Runs one short engine command (``… --json``) in a QProcess, without blocking the GUI.

    The last JSON object of its standard output is the answer; an error object, a non-zero
    exit or a failed start is the error. Subclasses turn the answer into what they emit
    (:meth:`answer`).
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process: QProcess | None = None
        self.error = ""
        self.done = False

    def run(self, argv: list[str]) -> None:
        """Start ``argv`` (a previous request is abandoned)."""
        self.stop()
        self.done = False
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
            if proc.state() != QProcess.ProcessState.NotRunning:
                proc.kill()
                proc.waitForFinished(2000)
            proc.deleteLater()

    @property
    def running(self) -> bool:
        """A request is under way."""
        return self.process is not None and not self.done

    def wait(self, timeout_ms: int = 60000) -> bool:
        """Block until the answer arrived (tests and scripts); True if it did."""
        if self.process is not None and not self.done:
            self.process.waitForFinished(timeout_ms)
        return self.done

    def answer(self, obj: dict[str, Any] | None, error: str) -> None:
        """Receive the answer (``error`` "" on success); subclasses emit their signal."""
        self.error, self.done = error, True

    def _failed(self, proc: QProcess) -> None:
        if proc is not self.process or proc.error() != QProcess.ProcessError.FailedToStart:
            return
        self.answer(None, tr("cannot start the engine: {reason}").format(reason=proc.errorString()))

    def _finished(self, proc: QProcess, code: int) -> None:
        if proc is not self.process:
            return
        out = bytes(proc.readAllStandardOutput()).decode("utf-8", "replace")
        err = bytes(proc.readAllStandardError()).decode("utf-8", "replace")
        obj = last_json_object(out)
        error = parse_error(obj) if obj else None
        if code != 0 or error is not None:
            lines = err.strip().splitlines() or [tr("exit status {code}").format(code=code)]
            self.answer(None, error.message if error else lines[-1])
        else:
            self.answer(obj, "")


class ModelInfoLoader(EngineQuery):
    """Runs ``roadseg models --json`` (or ``--info FILE``) in a QProcess.

    Signals:
        loaded(list, str): the model entries and an error message ("" on success).
    """

    loaded = pyqtSignal(list, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.models: list[dict[str, Any]] = []
        self.model_file: str | None = None

    def start(self, engine: EngineCommand, model_file: str | None = None) -> None:
        """Start fetching (a previous request is abandoned)."""
        self.model_file = model_file
        argv = model_info_argv(engine.argv, model_file) if model_file else models_argv(engine.argv)
        self.run(argv)

    def answer(self, obj: dict[str, Any] | None, error: str) -> None:
        """The models listed (or the error)."""
        models = models_from_json(obj) if not error else []
        if not error and not models:
            error = str((obj or {}).get("message") or tr("the engine listed no models"))
        self.models = models
        super().answer(obj, error)
        self.loaded.emit(models, error)


class FitCheck(EngineQuery):
    """Runs ``roadseg check-fit … --json`` (the dialog's *Check fit*) in a QProcess.

    Signals:
        checked(dict, str): the engine's answer and an error message ("" on success).
    """

    checked = pyqtSignal(dict, str)

    def answer(self, obj: dict[str, Any] | None, error: str) -> None:
        """Pass the answer on."""
        super().answer(obj, error)
        self.checked.emit(obj or {}, error)
