"""The top-level Python API: lazy, and callable whatever was imported first."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_import_roadseg_does_not_import_torch():
    code = "import sys, roadseg; print('torch' in sys.modules, roadseg.__version__)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "False"


@pytest.mark.parametrize("name", ["predict", "vectorize", "evaluate", "train"])
def test_function_still_callable_after_its_subpackage_is_imported(name, tmp_path):
    import importlib

    import roadseg
    from roadseg.errors import RoadsegError

    importlib.import_module(f"roadseg.{name}")  # sets roadseg.<name> to the subpackage
    fn = getattr(roadseg, name)
    missing = tmp_path / "missing.tif"
    with pytest.raises(RoadsegError):
        if name == "train":
            fn(image=[str(missing)], labels=[str(missing)], out=str(tmp_path / "run"))
        elif name == "evaluate":
            fn(missing, missing)
        elif name == "vectorize":
            fn(missing, tmp_path / "o.gpkg")
        else:
            fn(missing, model="default", out=tmp_path / "o.tif")
