"""Engine set-up in the Settings dialog: Test engine (a real check) and Install engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from qgis_helpers import wait_until

pytestmark = pytest.mark.qgis

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings_dialog(plugin):
    from roadseg_qgis.gui.settings import SettingsDialog

    dlg = SettingsDialog()
    yield dlg
    dlg.reject()


def _test_with(dlg, command: str) -> tuple[bool, str]:
    dlg.engine_widget.setFilePath(command)
    ok = dlg.run_test(wait=True, timeout_s=300)
    return bool(ok), dlg.test_result.toPlainText()


@pytest.mark.parametrize("program", ["python", "/bin/true"])
def test_test_engine_rejects_programs_that_are_not_roadseg(settings_dialog, program):
    """`python --version` and `/bin/true --version` print versions, but they are not roadseg."""
    command = sys.executable if program == "python" else program
    ok, text = _test_with(settings_dialog, command)
    assert not ok
    assert "✘ Is it roadseg?" in text and "is not the roadseg engine" in text
    assert "Give the `roadseg` program" in text and "Install engine" in text
    assert "OK" not in text and "✔" not in text


def test_test_engine_passes_with_the_real_engine_and_shows_it_all(
    settings_dialog, real_engine, monkeypatch
):
    from qgis.PyQt.QtCore import QCoreApplication
    from roadseg_qgis.gui import prefs

    dlg = settings_dialog
    prefs.record_device("cuda:0", auto=False)  # a GPU remembered from another machine's run
    assert prefs.devices_found() == ["cuda"]
    assert "ROADSEG_ENGINE" in dlg.found_label.text()  # the engine this session would use
    assert (
        "1. the command above" in dlg.order_label.text()
        and "4. roadseg on PATH" in dlg.order_label.text()
    )
    assert ">=0.1.0, <0.2.0" in dlg.compat_label.text()
    assert dlg.run_test(wait=True, timeout_s=300), dlg.test_result.toPlainText()
    report = dlg.last_report
    text = dlg.test_result.toPlainText()
    assert text == report.text()  # in full, nothing cut
    assert [line[:1] for line in text.splitlines()[1:5]] == ["✔"] * 4
    assert "Yes: roadseg 0.1.0" in text and "classes major, minor, track" in text
    assert "64 px prediction run?" in text and "on cpu" in text
    assert prefs.auto_device() == "cpu"  # what `auto` reaches here
    assert "Devices: cpu (CPU" in text  # the engine's own list, with its label
    # exactly what the engine listed (here the CPU alone): the stale cuda entry is gone
    listed = [d.family for d in report.devices]
    assert "cpu" in listed and prefs.devices_found() == [f for f in listed if f != "cpu"]
    dlg.resize(640, 480)
    dlg.show()
    QCoreApplication.processEvents()
    dlg.fit_result()
    QCoreApplication.processEvents()
    assert dlg.test_result.verticalScrollBar().maximum() == 0  # every line visible
    dlg.hide()


def test_test_engine_rejects_a_roadseg_whose_model_cannot_load(
    settings_dialog, real_engine, tmp_path
):
    from roadseg_qgis.gui import prefs

    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 64)
    prefs.set_dialog_values({"model": "__file__", "model_file": str(bad)})  # the model in use
    ok = settings_dialog.run_test(wait=True, timeout_s=300)
    text = settings_dialog.test_result.toPlainText()
    assert not ok and "✔ Compatible version?" in text
    assert "✘ Does the model load?" in text and "broken.safetensors" in text
    assert "Choose another model file" in text and "Install engine" in text


def test_install_refuses_bad_choices(settings_dialog, tmp_path):
    from roadseg_qgis.gui.install import InstallDialog

    dlg = InstallDialog(settings_dialog, venv=tmp_path / "engine-venv")
    assert not dlg.start() and "Choose a roadseg wheel" in dlg.result_label.text()
    dlg.wheel_widget.setFilePath(str(tmp_path / "roadseg-0.1.0-py3-none-any.whl"))
    assert not dlg.start() and "is not a wheel file" in dlg.result_label.text()
    dlg.index_radio.setChecked(True)
    dlg.index_edit.setText("https://example.org/simple")
    dlg.python_widget.setFilePath(str(tmp_path / "no-python"))
    assert not dlg.start() and "Python" in dlg.result_label.text()
    assert not (tmp_path / "engine-venv").exists()


def test_install_cancel_removes_the_half_made_environment(settings_dialog, tmp_path):
    """Failure injection: a "python" that takes its time making the environment."""
    from roadseg_qgis.gui.install import InstallDialog

    slow = tmp_path / "python3"
    slow.write_text('#!/bin/sh\nfor last; do :; done\nmkdir -p "$last/bin"\nsleep 60\n')
    slow.chmod(0o755)
    wheel = tmp_path / "roadseg-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"not really")
    venv = tmp_path / "engine-venv"
    dlg = InstallDialog(settings_dialog, venv=venv)
    dlg.python_widget.setFilePath(str(slow))
    dlg.wheel_widget.setFilePath(str(wheel))
    assert dlg.start()
    assert wait_until(lambda: venv.exists(), 30)
    dlg.cancel()
    assert dlg.wait(30)
    assert dlg.last_task.cancelled and "cancelled" in dlg.result_label.text()
    assert not venv.exists()


def test_install_failure_says_why_and_keeps_nothing(settings_dialog, tmp_path):
    from roadseg_qgis.gui.install import InstallDialog

    wheel = tmp_path / "roadseg-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"not a zip")
    venv = tmp_path / "engine-venv"
    dlg = InstallDialog(settings_dialog, venv=venv)
    dlg.python_widget.setFilePath(sys.executable)
    dlg.wheel_widget.setFilePath(str(wheel))
    dlg.pip_edit.setText("--no-index --no-deps")
    assert dlg.start()
    assert dlg.wait(300)
    task = dlg.last_task
    assert not task.ok and "pip install failed" in dlg.result_label.text()
    assert "roadseg-0.1.0-py3-none-any.whl" in dlg.log_view.toPlainText()
    assert not venv.exists()


def _linker_wheel(folder: Path) -> Path:
    """A wheel whose .pth adds the shared venv's packages (torch…) to the new environment."""
    import sysconfig

    site = Path(
        subprocess.run(
            [str(REPO / ".venv" / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    assert sysconfig  # noqa: S101 - imported for the path layout only
    path = folder / "roadseg_test_deps-0.0.0-py3-none-any.whl"
    info = "roadseg_test_deps-0.0.0.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("roadseg_test_deps.pth", f"{site}\n")
        zf.writestr(
            f"{info}/METADATA", "Metadata-Version: 2.1\nName: roadseg-test-deps\nVersion: 0.0.0\n"
        )
        zf.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        zf.writestr(f"{info}/RECORD", "")
    return path


@pytest.mark.slow
def test_install_engine_from_a_local_wheel_then_test_it(settings_dialog, tmp_path, monkeypatch):
    """Install engine with no network: a wheel built from this checkout, pip --no-index.

    The new environment gets the heavy dependencies (torch…) of the shared venv through a
    .pth file from a second local wheel, so nothing is downloaded. Then Test engine finds
    it as the plugin's own engine and passes; with its default model damaged, it fails.
    """
    from roadseg_qgis.gui import prefs
    from roadseg_qgis.gui.install import InstallDialog

    src = tmp_path / "src"
    shutil.copytree(
        REPO / "engine", src / "engine", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(src)],
        check=True, timeout=600, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )  # fmt: skip
    wheel = next(wheels.glob("roadseg-*.whl"))
    venv = prefs.plugin_env_dir()  # the settings_reset fixture points it into tmp
    dlg = InstallDialog(settings_dialog, venv=venv)
    dlg.python_widget.setFilePath(str(REPO / ".venv" / "bin" / "python"))
    dlg.wheel_widget.setFilePath(str(wheel))
    dlg.system_check.setChecked(True)  # Debian's packages, as the shared venv has them
    dlg.pip_edit.setText(f"--no-index --no-deps {_linker_wheel(tmp_path)}")
    installed = []
    dlg.installed.connect(installed.append)
    assert dlg.start()
    assert dlg.wait(900)
    assert dlg.last_task.ok, dlg.result_label.text() + "\n" + dlg.log_view.toPlainText()[-3000:]
    assert installed == [str(venv / "bin" / "roadseg")]
    assert "Installed roadseg 0.1.0" in dlg.result_label.text()
    settings_dialog.update_found()
    assert "the plugin's own engine environment" in settings_dialog.found_label.text()
    assert settings_dialog.run_test(wait=True, timeout_s=600), (
        settings_dialog.test_result.toPlainText()
    )
    assert (
        "found in the plugin's own engine environment" in settings_dialog.test_result.toPlainText()
    )
    # A roadseg whose model cannot load: damage the installed default model.
    models = list(venv.glob("lib/python*/site-packages/roadseg/models/default/*.safetensors"))
    assert len(models) == 1
    models[0].write_bytes(b"\x00" * 128)
    assert not settings_dialog.run_test(wait=True, timeout_s=600)
    text = settings_dialog.test_result.toPlainText()
    assert "✘ Does the model load?" in text and "reinstall the engine" in text
