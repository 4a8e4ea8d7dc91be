"""Unit tests of the plugin's pure parts (standard library only, imported from the zip)."""

from __future__ import annotations

import doctest
import importlib
import json
import os
import stat
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.qgis

CORE_MODULES = (
    "check",
    "commands",
    "engine",
    "errors",
    "estimate",
    "glossary",
    "i18n",
    "install",
    "outputs",
    "params",
    "process",
    "protocol",
    "styling",
    "webraster",
)


@pytest.fixture(scope="module")
def core(plugin_pkg):
    return SimpleNamespace(
        **{m: importlib.import_module(f"roadseg_qgis.core.{m}") for m in CORE_MODULES}
    )


def test_core_imports_only_stdlib(plugin_pkg, plugins_dir):
    """The plugin never imports torch, rasterio, numpy or roadseg (only PyQt/qgis/stdlib).

    GDAL's ``osgeo`` ships with QGIS: the GUI may use it (test raster, raster tags);
    ``core`` stays standard library only.
    """
    import ast

    banned = {
        "torch",
        "rasterio",
        "numpy",
        "roadseg",
        "geopandas",
        "shapely",
        "pyproj",
        "fiona",
    }
    allowed_top = set(sys.stdlib_module_names) | {"qgis", "processing", "osgeo"}
    seen = set()
    for py in (plugins_dir / "roadseg_qgis").rglob("*.py"):
        tree = ast.parse(py.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for n in names:
                top = n.split(".")[0]
                seen.add(top)
                assert top not in banned, f"{py.name} imports {n}"
                assert top in allowed_top, f"{py.name} imports {n} (not stdlib/qgis)"
        if py.parent.name == "core":
            src = py.read_text()
            assert "from qgis" not in src and "import qgis" not in src, (
                f"core/{py.name} imports qgis"
            )
            assert "osgeo" not in src, f"core/{py.name} imports osgeo"
    assert "qgis" in seen


def test_doctests_of_core(core):
    failures = 0
    for m in CORE_MODULES:
        failures += doctest.testmod(getattr(core, m)).failed
    assert failures == 0


# -- parameters ---------------------------------------------------------------------------
def _params(core, **kw):
    base = dict(
        raster_path="/data/in.tif",
        raster_name="in",
        bbox=(0.0, 0.0, 10.0, 20.0),
        bbox_crs="EPSG:32611",
        output_dir="/tmp/out",
    )
    base.update(kw)
    return core.params.RunParameters(**base)


def test_parameters_defaults_and_validation(core):
    p = _params(core)
    assert p.outputs.polygons and p.outputs.centrelines and not p.outputs.class_raster
    assert p.model is None and p.device == "auto"
    bad = [
        dict(bbox=(10.0, 0.0, 0.0, 20.0)),
        dict(bbox=(0.0, 0.0, float("nan"), 1.0)),
        dict(bbox_crs=""),
        dict(output_dir=""),
        dict(outputs=core.params.Outputs(False, False, False)),
        dict(device="tpu"),
        dict(tile=16),
        dict(tile=256, overlap=128),
        dict(batch_size=0),
        dict(raster_path=""),
        dict(working_gsd=0.0),
        dict(working_gsd=-0.4),
        dict(working_gsd=float("nan")),
        dict(working_gsd=1000.0),
        dict(road_threshold=1.0),
        dict(road_threshold=-0.2),
        dict(road_threshold=float("nan")),
    ]
    for kw in bad:
        with pytest.raises(core.errors.InputError):
            _params(core, **kw)


def test_parameters_are_frozen(core):
    p = _params(core)
    with pytest.raises(AttributeError):
        p.device = "cpu"  # type: ignore[misc]


# -- command lines ------------------------------------------------------------------------
def test_predict_argv_full(core):
    p = _params(
        core,
        bbox=(500000.0, 3999968.25, 500032.0, 4000000.0),
        model="/m/x.safetensors",
        device="cpu",
        tile=256,
        overlap=32,
        batch_size=2,
        working_gsd=0.4,
    )
    argv = core.commands.predict_argv(["/venv/bin/roadseg"], p, "/o/r.tif", "/o/r.gpkg")
    assert argv == [
        "/venv/bin/roadseg",
        "predict",
        "/data/in.tif",
        "--out",
        "/o/r.tif",
        "--vectorize",
        "/o/r.gpkg",
        "--bbox",
        "500000",
        "3999968.25",
        "500032",
        "4000000",
        "--bbox-crs",
        "EPSG:32611",
        "--model",
        "/m/x.safetensors",
        "--device",
        "cpu",
        "--tile",
        "256",
        "--overlap",
        "32",
        "--batch-size",
        "2",
        "--working-gsd",
        "0.4",
        "--progress",
        "json",
        "--json",
    ]


def test_predict_argv_minimal_keeps_engine_defaults(core):
    p = _params(core, outputs=core.params.Outputs(False, False, True))
    argv = core.commands.predict_argv(["python", "-m", "roadseg.cli.main"], p, "r.tif", None)
    assert argv[:4] == ["python", "-m", "roadseg.cli.main", "predict"]
    for opt in ("--vectorize", "--model", "--device", "--tile", "--overlap", "--batch-size",
                "--working-gsd"):  # fmt: skip
        assert opt not in argv
    assert argv[-3:] == ["--progress", "json", "--json"]


def test_predict_argv_polygons_give_extent_file_not_bbox(core):
    """The engine takes --bbox or --extent-file, never both (issue 13's first bug)."""
    p = _params(core, area_mode="selection", aoi_geojson='{"type": "FeatureCollection"}')
    argv = core.commands.predict_argv(["r"], p, "a.tif", "a.gpkg", extent_file="/s/area.geojson")
    assert argv[argv.index("--extent-file") + 1] == "/s/area.geojson"
    assert "--bbox" not in argv and "--bbox-crs" not in argv
    assert "--overwrite" not in argv
    assert "--overwrite" in core.commands.predict_argv(["r"], p, "a.tif", None, overwrite=True)
    with pytest.raises(core.errors.InputError):  # polygons without a polygon area, and back
        _params(core, area_mode="layer", aoi_geojson="{}")
    with pytest.raises(core.errors.InputError):
        _params(core, area_mode="polygons")


def test_overlap_zero_is_passed(core):
    argv = core.commands.predict_argv(["r"], _params(core, overlap=0), "a.tif", None)
    assert argv[argv.index("--overlap") + 1] == "0"


def test_number_formatting_round_trips(core):
    for v in (0.1, -123.456789012345, 4_000_000.0, 1e-7, 123456789.125):
        assert float(core.commands.fmt_number(v)) == pytest.approx(v, abs=1e-9)
        assert "e" not in core.commands.fmt_number(v).lower()


# -- JSON lines and progress ----------------------------------------------------------------
def test_parse_progress_lines(core):
    pr = core.protocol
    line = pr.parse_progress(
        json.dumps(
            {"type": "progress", "stage": "predict", "done": 3, "total": 12, "message": "tile"}
        )
    )
    assert line == pr.ProgressLine("predict", 3, 12, "tile") and line.fraction == 0.25
    for junk in (
        "",
        "Error: x",
        "{not json",
        '{"type": "error", "message": "x"}',
        "[1, 2]",
        '{"type": "progress", "done": "x"}',
    ):
        assert pr.parse_progress(junk) is None
    assert pr.ProgressLine("x", 5, 0).fraction == 0.0
    assert pr.ProgressLine("x", 15, 10).fraction == 1.0


def test_last_json_object_and_error(core):
    pr = core.protocol
    err = {"type": "error", "error": "CRSError", "message": "no CRS", "exit_code": 1}
    out = 'log\n{"outputs": {"raster": "a"}}\n' + json.dumps(err) + "\n"
    obj = pr.last_json_object(out)
    err = pr.parse_error(obj)
    assert err == pr.ErrorLine("CRSError", "no CRS", 1)
    assert pr.parse_error({"outputs": {}}) is None
    assert pr.last_json_object("") is None


def test_progress_mapping_monotonic_and_bounded(core):
    pr = core.protocol
    m = pr.ProgressMapper(vectorize=True)
    seq = [
        ("open", 0, 1),
        ("predict", 0, 10),
        ("predict", 5, 10),
        ("predict", 10, 10),
        ("vectorize/skeleton", 1, 2),
        ("predict", 2, 10),
        ("vectorize/graph", 2, 2),
        ("write", 0, 1),
        ("write", 1, 1),
    ]
    values = [m.percent(pr.ProgressLine(s, d, t)) for s, d, t in seq]
    assert values == sorted(values)
    assert values[0] == 0.0 and values[3] == 85.0 and values[6] == 97.0 and values[-1] == 99.5
    m2 = pr.ProgressMapper(vectorize=False)
    assert m2.percent(pr.ProgressLine("predict", 10, 10)) == 97.0
    assert pr.ProgressMapper().percent(pr.ProgressLine("train", 1, 2)) == pytest.approx(45.0)


# -- estimate -----------------------------------------------------------------------------
def test_estimate_and_limit(core):
    est = core.estimate.estimate(2e6, 0.5, "cpu", limit_km2=1.0)
    assert est.megapixels == pytest.approx(8.0) and est.area_km2 == pytest.approx(2.0)
    assert est.seconds == pytest.approx(core.estimate.STARTUP_S + 8.0 / 0.5)
    assert est.over_limit and "larger than the limit of 1 km²" in est.limit_message()
    assert "Settings" in est.limit_message()
    assert not core.estimate.estimate(2e6, 0.5, "cpu", limit_km2=0).over_limit
    measured = core.estimate.estimate(2e6, 0.5, "cpu", throughput_mpx_s=4.0)
    assert measured.measured and measured.seconds == pytest.approx(core.estimate.STARTUP_S + 2.0)
    assert "measured speed" in measured.text()


# -- styling ------------------------------------------------------------------------------
def test_styles_from_model_info(core):
    info = {
        "classes": ["background", "major", "minor", "track"],
        "colors": [[0, 0, 0], [230, 85, 13], [253, 174, 107], [140, 109, 49]],
        "widths_m": [0, 10, 6, 3],
    }
    s = core.styling.scheme_from_info(info)
    assert s.names == ["major", "minor", "track"]
    assert [c.hex for c in s.classes] == ["#e6550d", "#fdae6b", "#8c6d31"]
    widths = [c.line_width_mm for c in s.classes]
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]
    assert s.by_name("minor").polygon_layer == "roads_minor" and s.by_index(3).name == "track"
    # Missing or broken colours fall back to a palette, never fail.
    s2 = core.styling.scheme_from_lists(["background", "a", "b"], [[0, 0, 0], "bad"])
    assert len({c.rgb for c in s2.classes}) == 2
    assert core.styling.scheme_from_info({"classes": ["background"]}) is None


# -- engine discovery -----------------------------------------------------------------------
def _exe(path: Path, text: str = "roadseg, version 0.1.0") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{text}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_find_engine_order(core, tmp_path):
    """Setting, then ROADSEG_ENGINE, then the plugin's own environment, then PATH."""
    find = core.engine.find_engine
    cfg_exe = _exe(tmp_path / "cfg" / "roadseg")
    env_exe = _exe(tmp_path / "env" / "roadseg")
    own = tmp_path / "profile" / "roadseg" / "engine-venv"
    own_exe = _exe(own / "bin" / "roadseg")
    path_exe = _exe(tmp_path / "pathdir" / "roadseg")
    env = {"ROADSEG_ENGINE": str(env_exe)}
    args = dict(plugin_env=own, search_path=str(path_exe.parent))
    got = find(str(cfg_exe), env=env, **args)
    assert got.argv == (str(cfg_exe),) and got.source == "the plugin settings"
    got = find("", env=env, **args)
    assert got.argv == (str(env_exe),) and "ROADSEG_ENGINE" in got.source
    got = find(None, env={}, **args)
    assert got.argv == (str(own_exe),) and got.source == "the plugin's own engine environment"
    got = find(None, env={}, plugin_env=tmp_path / "none", search_path=str(path_exe.parent))
    assert got.argv == (str(path_exe),) and got.source == "PATH"


def test_find_engine_messages(core, tmp_path):
    find = core.engine.find_engine
    with pytest.raises(core.errors.EngineNotFoundError) as e:
        find(None, env={}, plugin_env=tmp_path / "none", search_path=str(tmp_path))
    msg = e.value.message
    assert msg.startswith("No roadseg engine found") and "Install engine" in msg
    assert "ROADSEG_ENGINE" in msg
    with pytest.raises(core.errors.EngineNotFoundError) as e:
        find(str(tmp_path / "missing" / "roadseg"), env={}, search_path="")
    assert "plugin settings" in e.value.message and "missing" in e.value.message


def test_engine_command_with_arguments(core):
    cmd = core.engine.find_engine(f"'{sys.executable}' -m roadseg.cli.main", env={})
    assert cmd.argv == (sys.executable, "-m", "roadseg.cli.main")


def test_engine_env_strips_qgis_paths(core):
    env = core.engine.engine_env(
        {"PATH": "/x", "PROJ_LIB": "/q", "GDAL_DATA": "/g", "PYTHONHOME": "/h", "HOME": "/r"}
    )
    assert env["PATH"] == "/x" and env["HOME"] == "/r" and env["PYTHONUNBUFFERED"] == "1"
    assert not {"PROJ_LIB", "GDAL_DATA", "PYTHONHOME"} & set(env)


def test_identity_and_compatible_versions(core):
    e = core.engine
    assert e.parse_identity("roadseg, version 0.1.0\n") == "0.1.0"
    for other in ("Python 3.11.2", "true (GNU coreutils) 9.1", "", "roadseg 0.1.0"):
        assert e.parse_identity(other) is None, other
    assert e.compatible(e.ENGINE_MIN_VERSION) and not e.compatible(e.ENGINE_BELOW_VERSION)
    assert e.compatible("0.1.9.dev2+gabc") and not e.compatible("1.0.0")
    assert e.compatible_range() == ">=0.1.0, <0.2.0"


def test_option_probe(core, tmp_path):
    """--overwrite is passed only when this engine's `predict --help` lists it (asked once)."""
    calls = tmp_path / "calls"
    script = tmp_path / "engine"
    script.write_text(
        '#!/bin/sh\necho "$@" >> ' + str(calls) + "\n"
        'if [ "$1" = predict ]; then echo "  --overwrite  Replace existing outputs."; fi\n'
    )
    script.chmod(0o755)
    e = core.engine
    assert e.supports_option([str(script)], "predict", "--overwrite")
    assert e.supports_option([str(script)], "predict", "--overwrite")
    assert not e.supports_option([str(script)], "vectorize", "--overwrite")
    assert calls.read_text().splitlines() == ["predict --help", "vectorize --help"]


# -- Test engine (core) ---------------------------------------------------------------------
def _check(core, argv, tmp_path):
    cmd = core.engine.EngineCommand(tuple(argv), "the plugin settings")
    return core.check.check_engine(
        cmd, "default", tmp_path, lambda *a: None, env=core.engine.engine_env(), timeout_s=60
    )


@pytest.mark.parametrize("program", [sys.executable, "/bin/true", "/bin/echo"])
def test_check_rejects_programs_that_are_not_roadseg(core, tmp_path, program):
    report = _check(core, [program], tmp_path)
    assert not report.ok and len(report.steps) == 1
    text = report.text()
    assert "is not the roadseg engine" in text and "Install engine" in text, text


def test_check_rejects_an_incompatible_version(core, tmp_path):
    script = tmp_path / "roadseg"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "roadseg, version 9.0.0"; exit 0; fi\n'
        'echo \'{"models": [], "count": 0}\'\n'
    )
    script.chmod(0o755)
    report = _check(core, [str(script)], tmp_path)
    assert [s.ok for s in report.steps] == [True, False] and report.version == "9.0.0"
    assert "needs roadseg >=0.1.0, <0.2.0" in report.text() and "Install" in report.text()


def test_engine_devices_lists_what_the_real_engine_can_use(core, real_engine_available, tmp_path):
    """Test engine asks the engine for its devices (``devices --json``), so a GPU is offered
    in Map roads before any run used it. The real engine on this CPU machine lists the CPU;
    a GPU listing comes from a script (no GPU here), and a program without the command
    gives nothing rather than an error."""
    engine_code = Path(__file__).resolve().parents[2] / "engine"
    real = core.engine.EngineCommand(
        ("env", f"PYTHONPATH={engine_code}", real_engine_available), "test"
    )
    found = core.check.engine_devices(real, env=core.engine.engine_env())
    cpu = [d for d in found if d.name == "cpu"]  # a GPU machine lists its GPUs too
    assert len(cpu) == 1 and "CPU" in cpu[0].label, found
    gpu = tmp_path / "gpu-engine"
    gpu.write_text(
        "#!/bin/sh\n"
        'echo \'{"devices": [{"name": "cpu", "label": "CPU"}, '
        '{"name": "cuda:0", "label": "NVIDIA H200"}], "auto": "cuda:0"}\'\n'
    )
    gpu.chmod(0o755)
    listed = core.check.engine_devices(core.engine.EngineCommand((str(gpu),), "test"))
    assert [(d.name, d.family) for d in listed] == [("cpu", "cpu"), ("cuda:0", "cuda")]
    assert core.check.engine_devices(core.engine.EngineCommand(("/bin/true",), "test")) == ()


# -- install plan -----------------------------------------------------------------------------
def test_install_plan(core, tmp_path):
    ins = core.install
    wheel = tmp_path / "roadseg-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"zip")
    venv = ins.engine_venv_dir(tmp_path / "profile")
    plan = ins.make_plan(sys.executable, venv, str(wheel), True, ["--no-index", "--no-deps"])
    make, pip = plan.commands()
    assert make == [sys.executable, "-m", "venv", "--system-site-packages", str(venv)]
    assert pip[0] == str(venv / "bin" / "python") and pip[-3:] == [
        "--no-index",
        "--no-deps",
        str(wheel),
    ]
    assert plan.engine == venv / "bin" / "roadseg"
    index = ins.make_plan(sys.executable, venv, "https://example.org/simple")
    assert index.commands()[1][-3:] == [
        "--index-url",
        "https://example.org/simple",
        ins.REQUIREMENT,
    ]
    for bad, match in (
        (str(tmp_path / "none.whl"), "is not a wheel file"),
        (str(tmp_path), "is not a wheel file"),
        ("", "Choose a roadseg wheel"),
    ):
        with pytest.raises(core.errors.InputError, match=match):
            ins.make_plan(sys.executable, venv, bad)
    other = tmp_path / "numpy-1.0-py3-none-any.whl"
    other.write_bytes(b"zip")
    with pytest.raises(core.errors.InputError, match="not a roadseg wheel"):
        ins.make_plan(sys.executable, venv, str(other))
    with pytest.raises(core.errors.InputError, match="Python"):
        ins.make_plan(str(tmp_path / "nopython"), venv, str(wheel))


# -- outputs staging ------------------------------------------------------------------------
def test_staging_commit_and_discard(core, tmp_path):
    o = core.outputs
    paths = o.plan_run(tmp_path / "results", "scene_default_model_1")
    assert paths.stage_dir.is_dir() and paths.stage_dir.name.startswith(".roadseg-partial-")
    paths.staged_raster.write_bytes(b"r")
    paths.staged_vectors.write_bytes(b"v")
    (paths.stage_dir / "roads.gpkg.part").write_bytes(b"x")
    final, raster, vectors = o.commit(paths, keep_raster=False, keep_vectors=True)
    assert (
        raster is None and vectors == tmp_path / "results" / "scene_default_model_1" / "roads.gpkg"
    )
    assert vectors.read_bytes() == b"v" and sorted(p.name for p in final.run_dir.iterdir()) == [
        "roads.gpkg"
    ]
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["scene_default_model_1"]
    again = o.plan_run(tmp_path / "results", "scene_default_model_1")
    assert again.name == "scene_default_model_1_2"
    again.staged_raster.write_bytes(b"partial")
    o.discard(again)
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["scene_default_model_1"]
    assert o.project_results_dir("/p") == Path("/p/roadseg")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_folder_nonroot(core, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(core.errors.InputError):
        core.outputs.check_output_dir(ro)


def test_output_folder_that_is_a_file(core, tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(core.errors.InputError, match="is a file"):
        core.outputs.check_output_dir(f)
    with pytest.raises(core.errors.InputError, match="Cannot write to the results folder"):
        core.outputs.check_output_dir(f / "sub")


# -- the subprocess runner (against the fake engine script) -----------------------------------
def _fake_argv(tmp_path, *args):
    from qgis_helpers import FAKE_ENGINE

    return [sys.executable, str(FAKE_ENGINE), *args]


def test_run_engine_success_streams_progress(core, tmp_path, utm_raster):
    seen = []
    argv = _fake_argv(
        tmp_path,
        "predict",
        str(utm_raster),
        "--out",
        str(tmp_path / "o.tif"),
        "--vectorize",
        str(tmp_path / "o.gpkg"),
        "--progress",
        "json",
        "--json",
    )
    res = core.process.run_engine(argv, env=core.engine.engine_env(), on_progress=seen.append)
    assert res.ok, res.details()
    assert res.result["outputs"]["vectors"] == str(tmp_path / "o.gpkg")
    assert [p.stage for p in seen] == ["setup", "predict", "vectorize"]
    assert (tmp_path / "o.tif").exists() and (tmp_path / "o.gpkg").exists()


def test_run_engine_failure_reports_engine_message(core, tmp_path, utm_raster):
    env = dict(core.engine.engine_env(), FAKE_ROADSEG_MODE="fail")
    res = core.process.run_engine(
        _fake_argv(tmp_path, "predict", str(utm_raster), "--out", "x.tif", "--json"), env=env
    )
    assert not res.ok and res.returncode == 1 and res.error.error == "ModelFileError"
    assert "damaged" in res.message() and "Command:" in res.details()
    with pytest.raises(core.errors.EngineFailedError):
        res.raise_for_status()


def test_run_engine_crash_without_json(core, tmp_path, utm_raster):
    env = dict(core.engine.engine_env(), FAKE_ROADSEG_MODE="crash")
    res = core.process.run_engine(
        _fake_argv(tmp_path, "predict", str(utm_raster), "--out", "x.tif"), env=env
    )
    assert res.returncode == 3 and res.error is None
    assert "exit status 3" in res.message() and "fake crash" in res.message()


def test_run_engine_cancel_kills_quickly(core, tmp_path, utm_raster):
    env = dict(core.engine.engine_env(), FAKE_ROADSEG_MODE="slow")
    flag = threading.Event()
    seen = []

    def on_progress(line):
        seen.append(line)
        if len(seen) >= 3:
            flag.set()

    t0 = time.monotonic()
    res = core.process.run_engine(
        _fake_argv(tmp_path, "predict", str(utm_raster), "--out", str(tmp_path / "x.tif")),
        env=env,
        on_progress=on_progress,
        is_cancelled=flag.is_set,
    )
    assert res.cancelled and not res.ok
    assert time.monotonic() - t0 < 20
    with pytest.raises(core.errors.RunCancelledError):
        res.raise_for_status()


def test_run_engine_missing_program(core, tmp_path):
    with pytest.raises(core.errors.EngineNotFoundError, match="Cannot start"):
        core.process.run_engine([str(tmp_path / "nope")])
