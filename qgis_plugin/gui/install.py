"""*Install engine*: a dialog and a background task that make the plugin's own engine.

The task creates ``<QGIS profile>/roadseg/engine-venv`` with the chosen Python and
pip-installs roadseg from a wheel file or a package index (see ``core.install``),
with progress, the installer's output, and cancel (a cancelled or failed install
removes the half-made environment).
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

from qgis.core import QgsApplication, QgsTask
from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import QCoreApplication, pyqtSignal
from qgis.PyQt.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ..core.commands import display, version_argv
from ..core.engine import engine_env, parse_identity
from ..core.errors import InputError, PluginError
from ..core.i18n import tr
from ..core.install import REQUIREMENT, InstallPlan, default_python, make_plan, pip_progress
from ..core.process import run_engine
from . import prefs
from .messages import log


class InstallTask(QgsTask):
    """Create the environment and pip-install roadseg into it (worker thread).

    Signals:
        logLine(str): a line of the installer's output.

    Attributes:
        ok: Whether the engine was installed and answers ``--version``.
        message: What happened, and what to do when it failed.
        version: The installed engine's version.

    """

    logLine = pyqtSignal(str)  # noqa: N815 - Qt signal naming

    def __init__(self, plan: InstallPlan, on_done: Callable[[InstallTask], None]) -> None:
        super().__init__(tr("roadseg: Install engine"), QgsTask.Flag.CanCancel)
        self.plan = plan
        self.on_done = on_done
        self.ok = False
        self.cancelled = False
        self.message = ""
        self.version: str | None = None
        self._percent = 0.0

    def _line(self, line: str) -> None:
        self.logLine.emit(line)
        self._percent = pip_progress(line, self._percent)
        self.setProgress(self._percent)

    def run(self) -> bool:
        """Run the installation; always True (the outcome is in ``ok`` and ``message``)."""
        venv = self.plan.venv
        try:
            if venv.exists():
                shutil.rmtree(venv)
            venv.parent.mkdir(parents=True, exist_ok=True)
            for number, argv in enumerate(self.plan.commands(), start=1):
                self.logLine.emit(f"$ {display(argv)}")
                res = run_engine(
                    argv,
                    env=engine_env(),
                    on_log=self._line,
                    is_cancelled=self.isCanceled,
                    log_stdout=True,
                )
                if res.cancelled:
                    self.cancelled = True
                    self.message = tr("Installation cancelled; nothing was kept.")
                    break
                if res.returncode != 0:
                    what = tr("creating the environment") if number == 1 else tr("pip install")
                    self.message = tr(
                        "{what} failed (exit status {code}); the output above says why. Check "
                        "the wheel or index and the pip options (offline: --no-index "
                        "--find-links FOLDER), then install again."
                    ).format(what=what, code=res.returncode)
                    break
                self._percent = max(self._percent, 20.0 if number == 1 else 90.0)
                self.setProgress(self._percent)
            else:
                self._check()
        except (OSError, PluginError) as exc:
            self.message = tr("The installation failed: {reason}").format(
                reason=getattr(exc, "message", None) or exc
            )
        if not self.ok:
            shutil.rmtree(venv, ignore_errors=True)
        return True

    def _check(self) -> None:
        res = run_engine(version_argv([str(self.plan.engine)]), env=engine_env(), timeout_s=120)
        self.version = parse_identity(res.stdout_tail)
        if res.returncode == 0 and self.version:
            self.ok = True
            self.setProgress(100.0)
            self.message = tr("Installed roadseg {version} in {folder}.").format(
                version=self.version, folder=str(self.plan.venv)
            )
        else:
            self.message = tr(
                "pip finished, but {engine} does not answer as roadseg ({why}); its packages may "
                "be missing (without --no-deps pip installs them; with --system-site-packages "
                "they may come from the chosen Python)."
            ).format(
                engine=str(self.plan.engine),
                why=(res.stderr_tail.strip().splitlines() or [str(res.returncode)])[-1],
            )

    def finished(self, ok: bool) -> None:  # noqa: FBT001 - QgsTask API
        """Back in the main thread."""
        if not ok and not self.message:
            self.cancelled = True
            self.message = tr("Installation cancelled; nothing was kept.")
        log(self.message, "info" if self.ok else "warning")
        self.on_done(self)


class InstallDialog(QDialog):
    """Choose a wheel or an index, a Python and pip options; install with progress and cancel.

    Signals:
        installed(str): the new engine's ``roadseg`` program, after a successful install.

    """

    installed = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None, venv: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Install the roadseg engine"))
        self.setMinimumWidth(640)
        self.venv = venv or prefs.plugin_env_dir()
        self.task: InstallTask | None = None
        self.confirm_replace: Callable[[], bool] = self._ask_replace
        layout = QVBoxLayout(self)
        intro = QLabel(
            tr(
                "The engine runs in its own Python environment, so PyTorch never enters "
                "QGIS's Python. This creates {folder} and installs roadseg into it with pip. "
                "Map roads then finds it automatically (third in the search order)."
            ).format(folder=str(self.venv))
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.wheel_radio = QRadioButton(tr("Wheel file"))
        self.index_radio = QRadioButton(tr("Package index"))
        group = QButtonGroup(self)
        group.addButton(self.wheel_radio)
        group.addButton(self.index_radio)
        self.wheel_radio.setChecked(True)
        self.wheel_widget = QgsFileWidget()
        self.wheel_widget.setFilter(tr("Python wheel (*.whl)"))
        self.wheel_widget.setToolTip(
            tr("A roadseg-<version>-py3-none-any.whl, e.g. built with `pip wheel .` in a checkout.")
        )
        form.addRow(self.wheel_radio, self.wheel_widget)
        self.index_edit = QLineEdit()
        self.index_edit.setPlaceholderText("https://pypi.org/simple")
        self.index_edit.setToolTip(
            tr("A package index that has roadseg (pip --index-url); installs {req}.").format(
                req=REQUIREMENT
            )
        )
        form.addRow(self.index_radio, self.index_edit)
        self.python_widget = QgsFileWidget()
        self.python_widget.setFilePath(default_python())
        self.python_widget.setToolTip(
            tr("The Python 3.11+ interpreter that creates the environment.")
        )
        form.addRow(tr("Python"), self.python_widget)
        self.system_check = QCheckBox(
            tr("Use packages already installed for this Python (--system-site-packages)")
        )
        self.system_check.setToolTip(
            tr(
                "Lets the environment reuse e.g. a PyTorch installed with this Python instead of "
                "downloading it again."
            )
        )
        form.addRow("", self.system_check)
        self.pip_edit = QLineEdit()
        self.pip_edit.setPlaceholderText("--no-index --find-links /path/to/wheels")
        self.pip_edit.setToolTip(
            tr(
                "Extra pip options, e.g. --no-index --find-links FOLDER to install offline from "
                "a folder of wheels, -c constraints.txt, or --no-deps when the dependencies are "
                "already there."
            )
        )
        form.addRow(tr("pip options"), self.pip_edit)
        layout.addLayout(form)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        layout.addWidget(self.progress)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMinimumHeight(160)
        layout.addWidget(self.log_view)
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)
        layout.addWidget(self.result_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.install_button = self.buttons.addButton(
            tr("Install"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.cancel_button = self.buttons.addButton(
            tr("Cancel install"), QDialogButtonBox.ButtonRole.ActionRole
        )
        self.cancel_button.setEnabled(False)
        self.install_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def _ask_replace(self) -> bool:
        answer = QMessageBox.question(
            self,
            tr("Replace the engine?"),
            tr("An engine environment already exists in {folder}. Replace it?").format(
                folder=str(self.venv)
            ),
        )
        return answer == QMessageBox.StandardButton.Yes

    def plan(self) -> InstallPlan:
        """Return the installation plan from the widgets (raises InputError)."""
        source = (
            self.wheel_widget.filePath() if self.wheel_radio.isChecked() else self.index_edit.text()
        )
        try:
            options = shlex.split(self.pip_edit.text())
        except ValueError as exc:
            raise InputError(tr("The pip options cannot be read: {e}").format(e=exc)) from None
        return make_plan(
            self.python_widget.filePath().strip(),
            self.venv,
            source,
            self.system_check.isChecked(),
            options,
        )

    def start(self) -> bool:
        """Start the installation; False (with the reason shown) when it cannot start."""
        if self.task is not None:
            return False
        try:
            plan = self.plan()
        except InputError as exc:
            self._show(exc.message, ok=False)
            return False
        if plan.venv.exists() and not self.confirm_replace():
            return False
        self.log_view.clear()
        self.progress.setValue(0)
        self._show(tr("Installing…"), ok=True)
        self.task = InstallTask(plan, self._done)
        self.task.logLine.connect(self.log_view.appendPlainText)
        self.task.progressChanged.connect(self._progress)
        self.install_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        QgsApplication.taskManager().addTask(self.task)
        return True

    def _progress(self, percent: float) -> None:
        self.progress.setValue(int(percent))

    def cancel(self) -> None:
        """Cancel the running installation."""
        if self.task is not None:
            self.task.cancel()

    def wait(self, timeout_s: float = 600.0) -> bool:
        """Process events until the installation ended (tests and scripts); True if it did."""
        import time

        end = time.monotonic() + timeout_s
        while self.task is not None and time.monotonic() < end:
            QCoreApplication.processEvents()
            time.sleep(0.05)
        return self.task is None

    def _done(self, task: InstallTask) -> None:
        self.task = None
        self.last_task = task
        try:
            self._report(task)
        except RuntimeError:  # the dialog was closed and deleted meanwhile
            pass

    def _report(self, task: InstallTask) -> None:
        self.install_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self._show(task.message, ok=task.ok)
        if task.ok:
            self.installed.emit(str(task.plan.engine))

    def _show(self, text: str, ok: bool) -> None:
        self.result_label.setStyleSheet(f"color: {'#1a7f37' if ok else '#b42318'};")
        self.result_label.setText(text)

    def reject(self) -> None:
        """Close, cancelling a running installation first."""
        if self.task is not None:
            self.task.cancel()
            self.wait(60)
        super().reject()
