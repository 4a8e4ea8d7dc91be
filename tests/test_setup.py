"""Smoke tests of the set-up: the project venv sees QGIS, the pins hold."""

from __future__ import annotations

import subprocess
import sys


def test_qgis_core_imports_in_the_venv():
    code = "import qgis.core; print(qgis.core.Qgis.QGIS_VERSION)"
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("3.22")


def test_numpy_is_below_2_and_gdal_array_works():
    import numpy

    assert int(numpy.__version__.split(".")[0]) < 2
    r = subprocess.run(
        [sys.executable, "-c", "from osgeo import gdal_array; print('ok')"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.stdout.strip() == "ok", r.stderr


def test_sys_executable_is_the_project_venv():
    assert ".venv" in sys.prefix
