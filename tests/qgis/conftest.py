"""Fixtures for the QGIS plugin tests: the plugin loaded from its zip, engines, rasters."""

from __future__ import annotations

import importlib
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAKE_ENGINE = Path(__file__).with_name("fake_engine.py")
REAL_ENGINE = REPO / ".venv" / "bin" / "roadseg"
#: The real engine as the plugin runs it: this checkout's engine code (the plugin strips
#: QGIS's PYTHONPATH from the engine's environment, so the command sets its own).
REAL_ENGINE_COMMAND = (
    f"env PYTHONPATH={shlex.quote(str(REPO / 'engine'))} {shlex.quote(str(REAL_ENGINE))}"
)
PACKAGE = "roadseg_qgis"

sys.path.insert(0, str(REPO / "scripts"))

from qgis_helpers import FakeEngine, make_raster, wait_until  # noqa: E402


@pytest.fixture(scope="session")
def plugin_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin zip built by scripts/package_plugin.py."""
    import package_plugin

    return package_plugin.build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def plugins_dir(plugin_zip: Path, tmp_path_factory: pytest.TempPathFactory, qgis_app) -> Path:  # noqa: ANN001
    """A QGIS plugin folder with the zip extracted by QGIS's own installer code."""
    target = tmp_path_factory.mktemp("plugins")
    qgis_unzip()(str(plugin_zip), str(target))
    return target


def qgis_unzip() -> Callable[[str, str], None]:
    """``unzip`` of QGIS's plugin installer (pyplugin_installer/unzip.py), loaded from its file."""
    import importlib.util

    from qgis.core import QgsApplication

    path = Path(QgsApplication.pkgDataPath()) / "python" / "pyplugin_installer" / "unzip.py"
    spec = importlib.util.spec_from_file_location("_qgis_plugin_unzip", path)
    assert spec and spec.loader, path
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.unzip


@pytest.fixture(scope="session")
def plugin_pkg(plugins_dir: Path, qgis_app):  # noqa: ANN201
    """The ``roadseg_qgis`` package imported from the extracted zip."""
    if str(plugins_dir) not in sys.path:
        sys.path.insert(0, str(plugins_dir))
    pkg = importlib.import_module(PACKAGE)
    assert Path(pkg.__file__).resolve().is_relative_to(plugins_dir.resolve()), pkg.__file__
    return pkg


@pytest.fixture
def settings_reset(qgis_app, plugin_pkg, tmp_path_factory, monkeypatch) -> Iterator[None]:  # noqa: ANN001
    """Isolate the plugin's QgsSettings, the engine variable and its own engine folder."""
    from qgis.core import QgsSettings

    prefs = importlib.import_module(f"{PACKAGE}.gui.prefs")
    own_env = tmp_path_factory.mktemp("profile") / "roadseg" / "engine-venv"
    monkeypatch.setattr(prefs, "plugin_env_dir", lambda: own_env)
    QgsSettings().remove("roadseg")
    saved = os.environ.pop("ROADSEG_ENGINE", None)
    yield
    QgsSettings().remove("roadseg")
    os.environ.pop("ROADSEG_ENGINE", None)
    if saved is not None:
        os.environ["ROADSEG_ENGINE"] = saved


@pytest.fixture
def plugin(plugin_pkg, qgis_iface, qgis_new_project, settings_reset):  # noqa: ANN001, ANN201
    """The plugin created by classFactory(iface) with initGui() done; unloaded afterwards."""
    qgis_iface.messageBar().clear_messages()
    qgis_iface.messageBar().clearWidgets()
    p = plugin_pkg.classFactory(qgis_iface)
    p.initGui()
    yield p
    for task in list(p.tasks):
        task.cancel()
    wait_until(lambda: not p.tasks, 30)
    p.unload()
    close_dialogs()


def close_dialogs() -> None:
    """Close and delete the dialogs a test left open (a failed test keeps them referenced)."""
    from qgis.PyQt.QtCore import QCoreApplication
    from qgis.PyQt.QtWidgets import QApplication, QDialog

    for w in QApplication.topLevelWidgets():
        if isinstance(w, QDialog):
            w.done(0)
            w.deleteLater()
    QCoreApplication.sendPostedEvents(None, 0)
    QCoreApplication.processEvents()


@pytest.fixture
def fake_engine(tmp_path: Path, settings_reset) -> Iterator[FakeEngine]:  # noqa: ANN001
    """The fake engine set through ROADSEG_ENGINE."""
    fe = FakeEngine(tmp_path / "fake_calls.jsonl")
    os.environ["ROADSEG_ENGINE"] = fe.command
    os.environ["FAKE_ROADSEG_LOG"] = str(fe.log)
    fe.mode("ok")
    yield fe
    for k in ("FAKE_ROADSEG_LOG", "FAKE_ROADSEG_MODE"):
        os.environ.pop(k, None)


@pytest.fixture(scope="session")
def real_engine_available() -> str:
    """Path of the real engine; skip when its predict command is not there yet."""
    if not REAL_ENGINE.exists():
        pytest.skip(f"the real engine {REAL_ENGINE} is not installed (run make setup)")
    proc = subprocess.run(
        [str(REAL_ENGINE), "predict", "--help"], capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        pytest.skip(
            "`roadseg predict --help` failed (predict not available yet): "
            f"{proc.stderr.strip()[-200:]}"
        )
    return str(REAL_ENGINE)


@pytest.fixture
def real_engine(real_engine_available: str, settings_reset) -> str:  # noqa: ANN001
    """The real engine (this checkout's code) set through ROADSEG_ENGINE; returns the program."""
    os.environ["ROADSEG_ENGINE"] = REAL_ENGINE_COMMAND
    return real_engine_available


def real_env() -> dict[str, str]:
    """Environment for running the real engine from the tests themselves."""
    return {**os.environ, "PYTHONPATH": str(REPO / "engine")}


def scene_and_tiny_model(engine: str, d: Path, size: int, seed: int = 3) -> tuple[Path, Path]:
    """(image, model file): a `roadseg synth` scene in ``d/scene`` and a tiny real model
    calibrated on it (Unet-resnet18, tile 64, random weights with calibrated biases)."""
    subprocess.run(
        [engine, "synth", str(d / "scene"), "--size", str(size), "--seed", str(seed)],
        check=True,
        capture_output=True,
        timeout=300,
        env=real_env(),
    )
    raster = d / "scene" / "image.tif"
    return raster, tiny_model(engine, raster, d / "tiny.safetensors")


def tiny_model(engine: str, raster: Path, model: Path) -> Path:
    """Write the tiny real model of make_test_model.py, calibrated on ``raster``, to ``model``."""
    py = Path(engine).with_name("python")
    proc = subprocess.run(
        [
            str(py if py.exists() else sys.executable),
            str(Path(__file__).with_name("make_test_model.py")),
            str(model),
            str(raster),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=real_env(),
    )
    assert proc.returncode == 0, proc.stderr
    return model


@pytest.fixture(scope="session")
def real_scene(real_engine_available, tmp_path_factory):  # noqa: ANN001, ANN201
    """(image, model file): a 128 px `roadseg synth` scene and a tiny real model calibrated on it.

    The embedded default model finds the scene's roads; the tiny model gives every class a
    fair share.
    """
    return scene_and_tiny_model(real_engine_available, tmp_path_factory.mktemp("real"), 128)


@pytest.fixture
def utm_raster(tmp_path: Path) -> Path:
    """64×64 px, 0.5 m, UTM 11N (a 32 m square)."""
    return make_raster(tmp_path / "imagery.tif")


@pytest.fixture
def models_dir(plugin, tmp_path: Path, monkeypatch):  # noqa: ANN001, ANN201
    """The profile's folder of adapted models, in the test's folder."""
    prefs = importlib.import_module(f"{PACKAGE}.gui.prefs")
    folder = tmp_path / "profile_models"
    monkeypatch.setattr(prefs, "models_dir", lambda: folder)
    return folder
