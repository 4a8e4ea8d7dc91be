"""The Settings dialog: engine (search order, Test engine, Install engine), limit, results."""

from __future__ import annotations

import time

from qgis.core import QgsApplication
from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from ..core.check import STEP_COUNT, CheckReport
from ..core.engine import ENV_VAR, compatible_range
from ..core.errors import EngineNotFoundError
from ..core.i18n import tr
from . import prefs
from .engine_check import EngineCheckTask
from .messages import open_url

# Kept for callers of the earlier module layout.
current_engine = prefs.current_engine
engine_setting = prefs.engine_setting
limit_km2 = prefs.limit_km2

GREEN, RED, GREY = "#1a7f37", "#b42318", "#555555"


def search_order_text() -> str:
    """The engine search order, for the dialog and its tooltip."""
    return tr(
        "The engine is searched in this order: 1. the command above; 2. the {var} environment "
        "variable; 3. the plugin's own engine environment ({folder}, made by 'Install "
        "engine…'); 4. roadseg on PATH."
    ).format(var=ENV_VAR, folder=str(prefs.plugin_env_dir()))


class SettingsDialog(QDialog):
    """Engine command, Test engine, Install engine, size limit and results folder."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("roadseg settings"))
        self.setMinimumWidth(620)
        self.check_task: EngineCheckTask | None = None
        self.last_report: CheckReport | None = None
        layout = QVBoxLayout(self)

        box = QGroupBox(tr("Engine"))
        form = QFormLayout(box)
        self.engine_widget = QgsFileWidget()
        self.engine_widget.setStorageMode(QgsFileWidget.StorageMode.GetFile)
        self.engine_widget.setDialogTitle(tr("The roadseg engine program"))
        self.engine_widget.setFilePath(prefs.engine_setting())
        self.engine_widget.lineEdit().setPlaceholderText(tr("search automatically"))
        self.engine_widget.setToolTip(
            tr(
                "The `roadseg` program of the engine's Python environment, e.g. "
                "/path/to/env/bin/roadseg. Empty: search automatically."
            )
        )
        form.addRow(tr("Engine command"), self.engine_widget)
        self.order_label = QLabel(search_order_text())
        self.order_label.setWordWrap(True)
        self.order_label.setStyleSheet(f"color: {GREY};")
        form.addRow("", self.order_label)
        self.found_label = QLabel("")
        self.found_label.setWordWrap(True)
        form.addRow(tr("Engine used"), self.found_label)
        self.compat_label = QLabel(
            tr("This plugin ({version}) works with roadseg {range}.").format(
                version=prefs.plugin_version(), range=compatible_range()
            )
        )
        self.compat_label.setWordWrap(True)
        form.addRow("", self.compat_label)
        row = QHBoxLayout()
        self.test_button = QPushButton(tr("Test engine"))
        self.test_button.setToolTip(
            tr(
                "Checks that the program is roadseg, that its version suits this plugin, that "
                "the model loads and that a 64 px prediction runs (about 10 s)."
            )
        )
        self.install_button = QPushButton(tr("Install engine…"))
        self.install_button.setToolTip(
            tr("Create the plugin's own engine environment and install roadseg into it.")
        )
        row.addWidget(self.test_button)
        row.addWidget(self.install_button)
        row.addStretch(1)
        form.addRow("", row)
        self.test_result = QTextEdit()
        self.test_result.setReadOnly(True)
        self.test_result.setAcceptRichText(False)
        self.test_result.setPlaceholderText(tr("Press 'Test engine' to check the engine."))
        self.test_result.setMinimumHeight(60)
        form.addRow("", self.test_result)
        layout.addWidget(box)

        box = QGroupBox(tr("Runs"))
        form = QFormLayout(box)
        self.limit_spin = QDoubleSpinBox()
        self.limit_spin.setRange(0.0, 1_000_000.0)
        self.limit_spin.setDecimals(1)
        self.limit_spin.setSuffix(" km²")
        self.limit_spin.setSpecialValueText(tr("no limit"))
        self.limit_spin.setValue(prefs.limit_km2())
        self.limit_spin.setToolTip(
            tr("Map roads and Segment roads refuse larger areas (0: no limit).")
        )
        form.addRow(tr("Size limit per run"), self.limit_spin)
        self.results_widget = QgsFileWidget()
        self.results_widget.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.results_widget.setFilePath(prefs.results_dir())
        self.results_widget.setToolTip(
            tr(
                "Where runs of an unsaved project are saved. A saved project keeps its results "
                "in <project folder>/roadseg."
            )
        )
        form.addRow(tr("Results (unsaved projects)"), self.results_widget)
        layout.addWidget(box)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.Help
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.helpRequested.connect(lambda: open_url(prefs.help_url()))
        layout.addWidget(self.buttons)

        self.test_button.clicked.connect(lambda: self.run_test())
        self.install_button.clicked.connect(self.open_install)
        self.engine_widget.fileChanged.connect(self.update_found)
        self.update_found()

    # -- engine ---------------------------------------------------------------------
    def update_found(self, *_args: object) -> None:
        """Show which engine the current choices resolve to."""
        try:
            command = prefs.current_engine(self.engine_widget.filePath())
        except EngineNotFoundError as exc:
            self.found_label.setStyleSheet(f"color: {RED};")
            self.found_label.setText(exc.message)
        else:
            self.found_label.setStyleSheet("")
            self.found_label.setText(f"{command.text} ({command.source})")

    def run_test(self, wait: bool = False, timeout_s: float = 600.0) -> bool | None:
        """Start *Test engine*; with ``wait``, block until it ended and return whether it passed."""
        if self.check_task is None:
            try:
                command = prefs.current_engine(self.engine_widget.filePath())
            except EngineNotFoundError as exc:
                self._show(exc.message, ok=False)
                return False if wait else None
            self.test_button.setEnabled(False)
            self._show(tr("Testing {command}…").format(command=command.text), ok=None)
            self.check_task = EngineCheckTask(command, prefs.remembered_model(), self._tested)
            self.check_task.stepChanged.connect(self._step)
            QgsApplication.taskManager().addTask(self.check_task)
        if not wait:
            return None
        end = time.monotonic() + timeout_s
        while self.check_task is not None and time.monotonic() < end:
            QCoreApplication.processEvents()
            time.sleep(0.02)
        return self.last_report is not None and self.last_report.ok

    def _step(self, number: int, title: str) -> None:
        self._show(
            tr("Testing, step {n} of {total}: {title}").format(
                n=number, total=STEP_COUNT, title=title
            ),
            ok=None,
        )

    def _tested(self, task: EngineCheckTask) -> None:
        self.check_task = None
        self.last_report = task.report
        try:
            self._report(task)
        except RuntimeError:  # the dialog was closed and deleted meanwhile
            pass

    def _report(self, task: EngineCheckTask) -> None:
        self.test_button.setEnabled(True)
        if task.report is None:
            self._show(tr("Test engine was cancelled."), ok=False)
            return
        self._show(task.report.text(), ok=task.report.ok)

    def _show(self, text: str, ok: bool | None) -> None:
        color = GREY if ok is None else (GREEN if ok else RED)
        self.test_result.setStyleSheet(f"color: {color};")
        self.test_result.setPlainText(text)
        self.fit_result()

    def fit_result(self) -> None:
        """Grow the result box to show the whole text (up to a third of the screen)."""
        box = self.test_result
        doc = box.document()
        doc.setTextWidth(max(200, box.viewport().width()))
        margins = box.contentsMargins()
        height = int(doc.size().height()) + margins.top() + margins.bottom() + 2 * box.frameWidth()
        box.setMinimumHeight(max(60, min(height + 4, 420)))

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt API
        """Re-fit the result box to the new width."""
        super().resizeEvent(event)  # type: ignore[arg-type]
        self.fit_result()

    def open_install(self) -> None:
        """Open *Install engine*; after an installation, search again and test the new engine."""
        from .install import InstallDialog

        dlg = InstallDialog(self)
        dlg.installed.connect(self._installed)
        dlg.exec()

    def _installed(self, engine: str) -> None:
        if self.engine_widget.filePath().strip():
            self.engine_widget.setFilePath(engine)
        self.update_found()
        self.run_test()

    # -- closing ----------------------------------------------------------------------
    def accept(self) -> None:
        """Save the settings."""
        prefs.set_engine_setting(self.engine_widget.filePath())
        prefs.set_limit_km2(self.limit_spin.value())
        prefs.set_results_dir(self.results_widget.filePath().strip())
        self._stop_test()
        super().accept()

    def reject(self) -> None:
        """Close without saving (a running test is stopped)."""
        self._stop_test()
        super().reject()

    def _stop_test(self) -> None:
        if self.check_task is not None:
            self.check_task.cancel()
            self.run_test(wait=True, timeout_s=30)
