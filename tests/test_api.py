"""The top-level Python API: a fast `import roadseg`, `roadseg.api`, options objects, the README."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_import_roadseg_does_not_import_torch():
    code = "import sys, roadseg; print('torch' in sys.modules, roadseg.__version__)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "False"


PACKAGES = {
    "predict": "prediction",
    "vectorize": "vectorization",
    "evaluate": "evaluation",
    "train": "training",
}


@pytest.mark.parametrize("name", ["predict", "vectorize", "evaluate", "train"])
def test_api_functions_are_plain_functions_whatever_was_imported(name, tmp_path):
    import importlib
    import types

    import roadseg

    sub = importlib.import_module(f"roadseg.{PACKAGES[name]}")  # the step's subpackage
    import roadseg.api as api
    from roadseg.errors import RoadsegError

    fn = getattr(api, name)
    assert isinstance(fn, types.FunctionType)
    assert getattr(roadseg, name) is fn  # roadseg.predict(...) is the function, imports or not
    assert type(sub) is types.ModuleType  # no class swap
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


def test_options_objects_are_frozen_checked_and_overridable(tmp_path):
    import dataclasses

    from roadseg.api import EvaluateOptions, PredictOptions, VectorizeOptions, predict
    from roadseg.errors import ConfigError

    opts = PredictOptions(tile=64, bands="1,2,3", bbox=[0, 0, 10, 10])
    assert opts.bands == (1, 2, 3) and opts.bbox == (0.0, 0.0, 10.0, 10.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.tile = 32  # type: ignore[misc]
    with pytest.raises(ConfigError) as info:
        predict(tmp_path / "a.tif", out=tmp_path / "o.tif", options=opts, tiles=3)
    assert info.value.param == "tiles" and "valid: probabilities" in str(info.value)
    with pytest.raises(ConfigError, match="prune_m must be a number ≥ 0"):
        VectorizeOptions(prune_m=-1)
    with pytest.raises(ConfigError, match="apls_max_nodes must be at least 2"):
        EvaluateOptions(apls_max_nodes=1)
    with pytest.raises(TypeError):
        PredictOptions(True)  # type: ignore[misc]  # keyword-only


def test_readme_python_example_runs(tmp_path, monkeypatch):
    text = README.read_text()
    section = text[text.index("## Python API") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    assert (tmp_path / "out" / "roads.tif").is_file() and (
        tmp_path / "out" / "roads.gpkg"
    ).is_file()
    assert (tmp_path / "out" / "roads.graphml").is_file()
    assert (tmp_path / "out" / "eval" / "metrics.json").is_file()
    assert (tmp_path / "runs" / "a" / "model.safetensors").is_file()
