"""Fixtures for the QGIS plugin tests: the plugin loaded from its zip, engines, rasters."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAKE_ENGINE = Path(__file__).with_name("fake_engine.py")
REAL_ENGINE = REPO / ".venv" / "bin" / "roadseg"
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
def settings_reset(qgis_app) -> Iterator[None]:  # noqa: ANN001
    """Isolate the plugin's QgsSettings and the engine environment variable."""
    from qgis.core import QgsSettings

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
    p = plugin_pkg.classFactory(qgis_iface)
    p.initGui()
    yield p
    for task in list(p.tasks):
        task.cancel()
    wait_until(lambda: not p.tasks, 30)
    p.unload()


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
    """The real engine set through ROADSEG_ENGINE."""
    os.environ["ROADSEG_ENGINE"] = real_engine_available
    return real_engine_available


@pytest.fixture
def utm_raster(tmp_path: Path) -> Path:
    """64×64 px, 0.5 m, UTM 11N (a 32 m square)."""
    return make_raster(tmp_path / "imagery.tif")
