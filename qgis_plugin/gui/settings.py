"""Plugin settings (QgsSettings) and the Settings dialog with its "Test engine" button."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

from qgis.core import QgsProject, QgsSettings
from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core.commands import version_argv
from ..core.engine import EngineCommand, compatible, engine_env, find_engine, parse_version
from ..core.errors import EngineNotFoundError
from ..core.estimate import DEFAULT_LIMIT_KM2
from ..core.params import DEVICES

PLUGIN_DIR = Path(__file__).resolve().parents[1]
PREFIX = "roadseg/"
KEY_ENGINE = PREFIX + "engine"
KEY_LIMIT = PREFIX + "max_area_km2"
KEY_DEVICE = PREFIX + "device"
KEY_THROUGHPUT = PREFIX + "throughput_mpx_s/"


def plugin_version() -> str:
    """Return the plugin's version from its metadata.txt (packaged) or the repository's."""
    for cand in (PLUGIN_DIR / "metadata.txt", PLUGIN_DIR.parent / "metadata.txt"):
        if cand.is_file():
            cp = configparser.ConfigParser(interpolation=None)
            cp.read(cand, encoding="utf-8")
            return cp.get("general", "version", fallback="0.0.0")
    return "0.0.0"


def engine_setting() -> str:
    """Return the engine command saved by the user ("" = auto-detect)."""
    return str(QgsSettings().value(KEY_ENGINE, "", type=str) or "")


def set_engine_setting(command: str) -> None:
    """Save the engine command ("" = auto-detect)."""
    QgsSettings().setValue(KEY_ENGINE, command.strip())


def limit_km2() -> float:
    """Return the size limit in km² (0 = none)."""
    return float(QgsSettings().value(KEY_LIMIT, DEFAULT_LIMIT_KM2, type=float))


def set_limit_km2(value: float) -> None:
    """Save the size limit."""
    QgsSettings().setValue(KEY_LIMIT, float(value))


def default_device() -> str:
    """Return the device preselected in the dialog."""
    value = str(QgsSettings().value(KEY_DEVICE, "auto", type=str) or "auto")
    return value if value in DEVICES else "auto"


def set_default_device(device: str) -> None:
    """Save the preselected device."""
    QgsSettings().setValue(KEY_DEVICE, device)


def throughput(device: str) -> float | None:
    """Prediction speed measured on this machine (Mpx/s), if any."""
    value = QgsSettings().value(KEY_THROUGHPUT + device, 0.0, type=float)
    return float(value) if value and value > 0 else None


def set_throughput(device: str, mpx_s: float) -> None:
    """Remember the speed of the last run on ``device``."""
    QgsSettings().setValue(KEY_THROUGHPUT + device, float(mpx_s))


def current_engine(configured: str | None = None) -> EngineCommand:
    """Resolve the engine command for this QGIS session.

    Raises:
        EngineNotFoundError: with installation instructions.

    """
    project_home = QgsProject.instance().homePath()
    return find_engine(
        configured=engine_setting() if configured is None else configured,
        env=os.environ,
        python_executable=sys.executable,
        project_dirs=[d for d in (project_home, str(PLUGIN_DIR.parent)) if d],
    )


def test_engine(command: EngineCommand, timeout_s: float = 60.0) -> tuple[bool, str]:
    """Run ``roadseg --version``: (works, text to show)."""
    try:
        proc = subprocess.run(
            version_argv(command.argv),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=engine_env(),
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"Cannot run {command.text}: {exc}"
    out = (proc.stdout + proc.stderr).strip()
    version = parse_version(proc.stdout)
    if proc.returncode != 0 or version is None:
        return False, f"{command.text} --version failed (exit {proc.returncode}): {out[-300:]}"
    text = f"OK: roadseg {version} ({command.source}: {command.text})"
    if not compatible(version, plugin_version()):
        text += (
            f" — warning: the plugin is version {plugin_version()}; install matching versions "
            "of the plugin and the engine."
        )
    return True, text


class SettingsDialog(QDialog):
    """Engine command (auto-detected or chosen), Test engine, size limit, device."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("roadseg settings")
        self.setMinimumWidth(560)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.engine_widget = QgsFileWidget()
        self.engine_widget.setStorageMode(QgsFileWidget.GetFile)
        self.engine_widget.setDialogTitle("The roadseg engine command")
        self.engine_widget.setFilePath(engine_setting())
        self.engine_widget.lineEdit().setPlaceholderText("auto-detect")
        self.engine_widget.setToolTip(
            "The `roadseg` command of the engine's Python environment, e.g. "
            "/path/to/roadseg/.venv/bin/roadseg. Empty: auto-detect (ROADSEG_ENGINE, next to "
            "QGIS's Python, PATH, a .venv beside the project)."
        )
        form.addRow("Engine command", self.engine_widget)
        row = QHBoxLayout()
        self.test_button = QPushButton("Test engine")
        self.test_button.clicked.connect(self.run_test)
        row.addWidget(self.test_button)
        row.addStretch(1)
        form.addRow("", row)
        self.test_result = QLabel("")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextSelectableByMouse)
        form.addRow("", self.test_result)
        self.limit_spin = QDoubleSpinBox()
        self.limit_spin.setRange(0.0, 1_000_000.0)
        self.limit_spin.setDecimals(1)
        self.limit_spin.setSuffix(" km²")
        self.limit_spin.setSpecialValueText("no limit")
        self.limit_spin.setValue(limit_km2())
        form.addRow("Size limit per run", self.limit_spin)
        self.device_combo = QComboBox()
        self.device_combo.addItems(list(DEVICES))
        self.device_combo.setCurrentText(default_device())
        form.addRow("Default device", self.device_combo)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def run_test(self) -> bool:
        """Resolve the engine from the widgets and run ``roadseg --version``."""
        self.test_result.setText("Testing…")
        try:
            command = current_engine(self.engine_widget.filePath())
        except EngineNotFoundError as exc:
            ok, text = False, exc.message
        else:
            ok, text = test_engine(command)
        color = "#1a7f37" if ok else "#b42318"
        self.test_result.setStyleSheet(f"color: {color};")
        self.test_result.setText(text)
        return ok

    def accept(self) -> None:
        """Save the settings."""
        set_engine_setting(self.engine_widget.filePath())
        set_limit_km2(self.limit_spin.value())
        set_default_device(self.device_combo.currentText())
        super().accept()
