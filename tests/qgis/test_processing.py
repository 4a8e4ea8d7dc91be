"""The Processing algorithms with the REAL engine (the fake one only injects failures)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from qgis_helpers import add_raster, make_raster, process_alive, wait_until

pytestmark = pytest.mark.qgis

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def provider(plugin, qgis_processing):
    return plugin.provider


class Feedback:
    """A QgsProcessingFeedback that keeps the command lines and infos it was given."""

    def __new__(cls):
        from qgis.core import QgsProcessingFeedback

        class _F(QgsProcessingFeedback):
            def __init__(self):
                super().__init__()
                self.commands, self.infos = [], []

            def pushCommandInfo(self, text):  # noqa: N802
                self.commands.append(text)

            def pushInfo(self, text):  # noqa: N802
                self.infos.append(text)

        return _F()


def _layers_of(path):
    from qgis.core import QgsProviderRegistry

    md = QgsProviderRegistry.instance().providerMetadata("ogr")
    return sorted(s.name() for s in md.querySublayers(str(path)))


def _class_raster(path):
    from osgeo import gdal

    make_raster(path, bands=1)
    ds = gdal.Open(str(path), gdal.GA_Update)
    ds.SetMetadataItem("ROADSEG_CLASSES", json.dumps(["background", "major"]))
    ds = None
    return path


def gdal_tags(path: Path) -> dict[str, str]:
    """A raster's metadata (the dataset closed before returning)."""
    from osgeo import gdal

    ds = gdal.Open(str(path))
    try:
        return dict(ds.GetMetadata())
    finally:
        ds = None


def test_segment_and_vectorise_load_styled_grouped_layers(
    provider, real_engine, real_scene, tmp_path, qgis_new_project
):
    """From the toolbox: a group per run, centrelines on top, the class raster transparent last."""
    import processing
    from qgis.core import (
        QgsCategorizedSymbolRenderer,
        QgsCoordinateReferenceSystem,
        QgsCoordinateTransform,
        QgsPalettedRasterRenderer,
        QgsProject,
        QgsRasterLayer,
        QgsRectangle,
        QgsSettings,
        QgsVectorLayer,
    )

    raster, _model = real_scene
    QgsSettings().setValue("roadseg/max_area_km2", 0.0001)  # the parameter overrides it
    layer = QgsRasterLayer(str(raster), "scene")
    ext = layer.extent()
    part = QgsRectangle(
        ext.xMinimum(), ext.yMinimum() + 16, ext.xMinimum() + 48, ext.yMaximum()
    )  # 96 × 96 px
    tr = QgsCoordinateTransform(
        layer.crs(), QgsCoordinateReferenceSystem("EPSG:4326"), QgsProject.instance()
    )
    r = tr.transformBoundingBox(part)
    feedback = Feedback()
    res = processing.runAndLoadResults(
        "roadseg:segmentroads",
        {
            "INPUT": str(raster),
            "EXTENT": f"{r.xMinimum()!r},{r.xMaximum()!r},{r.yMinimum()!r},{r.yMaximum()!r} [EPSG:4326]",
            "DEVICE": 1,
            "TILE": 128,
            "WORKING_GSD": 0.4,
            "ROAD_THRESHOLD": 0.4,
            "MAX_AREA_KM2": 0,
            "OUTPUT_RASTER": str(tmp_path / "c.tif"),
            "OUTPUT_VECTORS": str(tmp_path / "r.gpkg"),
        },
        feedback=feedback,
    )
    argv = feedback.commands[-1].split()
    assert argv[argv.index("predict") + 1] == str(raster)  # a file is read as it is, not rendered
    assert not any("XYZ layer" in i or "rendered at" in i for i in feedback.infos)
    assert argv[argv.index("--device") + 1] == "cpu" and argv[argv.index("--tile") + 1] == "128"
    assert argv[argv.index("--bbox-crs") + 1] == "EPSG:32611" and "--extent-file" not in argv
    assert "--overwrite" in argv  # this engine's predict --help lists it (issue 15)
    assert argv[argv.index("--working-gsd") + 1] == "0.4"
    assert argv[argv.index("--road-threshold") + 1] == "0.4"
    assert any("Mpx at 0.4 m/px" in i for i in feedback.infos), feedback.infos
    assert res["ROAD_KM"] > 0 and "centerlines" in _layers_of(res["OUTPUT_VECTORS"])
    root = QgsProject.instance().layerTreeRoot()
    groups = [g for g in root.children() if g.name().startswith("Roads image (default model)")]
    assert len(groups) == 1, [c.name() for c in root.children()]
    layers = [n.layer() for n in groups[0].findLayers()]
    names = [lyr.name() for lyr in layers]
    assert names[0] == "centrelines" and names[-1] == "road classes", names
    assert all(n.endswith(" roads") for n in names[1:-1]) and len(names) >= 3
    lines = layers[0]
    assert isinstance(lines.renderer(), QgsCategorizedSymbolRenderer)
    assert layers[1].renderer().symbol().color().name() == "#e6550d"  # major, from the tags
    for lyr in layers[:-1]:
        assert isinstance(lyr, QgsVectorLayer) and lyr.featureCount() > 0
    ras = layers[-1]
    renderer = ras.renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    assert [c.value for c in renderer.classes()] == [1, 2, 3]  # no 0 (background), no 0–255
    assert [c.label for c in renderer.classes()] == ["major", "minor", "track"]
    assert 96 <= ras.width() <= 99  # the EPSG:4326 box back in UTM: a pixel of padding
    # Predicted at 0.4 m, written on the imagery's 0.5 m grid.
    assert ras.rasterUnitsPerPixelX() == pytest.approx(0.5)
    assert gdal_tags(tmp_path / "c.tif")["ROADSEG_WORKING_GSD_M"] == "0.4"
    assert gdal_tags(tmp_path / "c.tif")["ROADSEG_ROAD_THRESHOLD"] == "0.4"
    assert ras.extent().xMinimum() == pytest.approx(part.xMinimum(), abs=1.0)
    # Vectorise the class raster again: its own group, styled from the raster's tags.
    out = processing.runAndLoadResults(
        "roadseg:vectorizeroads",
        {"INPUT": str(tmp_path / "c.tif"), "OUTPUT": str(tmp_path / "v.gpkg")},
    )
    assert "centerlines" in _layers_of(out["OUTPUT"])
    vec = [g for g in root.children() if "(vectorised)" in g.name()]
    assert len(vec) == 1 and vec[0].findLayers()[0].layer().name() == "centrelines"


def test_segment_roads_refuses_big_areas_and_class_rasters(
    provider, real_engine, real_scene, tmp_path
):
    import processing
    from qgis.core import QgsProcessingException, QgsSettings

    raster, _model = real_scene
    QgsSettings().setValue("roadseg/max_area_km2", 0.001)  # 1000 m²; the scene is 4096 m²
    feedback = Feedback()
    t0 = time.monotonic()
    with pytest.raises(QgsProcessingException, match=r"larger than the limit of 0.001 km²"):
        processing.run(
            "roadseg:segmentroads",
            {
                "INPUT": str(raster),
                "OUTPUT_RASTER": str(tmp_path / "c.tif"),
                "OUTPUT_VECTORS": str(tmp_path / "r.gpkg"),
            },
            feedback=feedback,
        )
    assert time.monotonic() - t0 < 5 and feedback.commands == []  # refused before the engine
    with pytest.raises(QgsProcessingException, match="Size limit in km²"):
        processing.run(
            "roadseg:segmentroads",
            {
                "INPUT": str(raster),
                "MAX_AREA_KM2": 0.002,
                "OUTPUT_RASTER": str(tmp_path / "c.tif"),
                "OUTPUT_VECTORS": str(tmp_path / "r.gpkg"),
            },
        )
    # A working resolution the engine refuses for this 0.5 m model: stopped before the engine
    # (for a web layer, before rendering at it).
    with pytest.raises(QgsProcessingException, match="too far from the model's 0.5 m/px"):
        processing.run(
            "roadseg:segmentroads",
            {
                "INPUT": str(raster),
                "WORKING_GSD": 0.1,
                "MAX_AREA_KM2": 0,
                "OUTPUT_RASTER": str(tmp_path / "far.tif"),
                "OUTPUT_VECTORS": str(tmp_path / "far.gpkg"),
            },
            feedback=feedback,
        )
    assert not any(" predict " in c for c in feedback.commands)
    assert not (tmp_path / "far.tif").exists()
    with pytest.raises(QgsProcessingException, match="is a road class raster written by roadseg"):
        processing.run(
            "roadseg:segmentroads",
            {
                "INPUT": str(_class_raster(tmp_path / "classes.tif")),
                "OUTPUT_RASTER": str(tmp_path / "c.tif"),
                "OUTPUT_VECTORS": str(tmp_path / "r.gpkg"),
            },
        )
    with pytest.raises(QgsProcessingException, match="does not overlap"):
        processing.run(
            "roadseg:segmentroads",
            {
                "INPUT": str(raster),
                "EXTENT": "0,1,0,1 [EPSG:32611]",
                "OUTPUT_RASTER": str(tmp_path / "c.tif"),
                "OUTPUT_VECTORS": str(tmp_path / "r.gpkg"),
            },
        )
    assert not (tmp_path / "r.gpkg").exists()


def test_algorithms_have_the_roadseg_icon_and_help(provider):
    for alg in provider.algorithms():
        assert not alg.icon().isNull() and alg.svgIconPath().endswith("roadseg.svg"), alg.id()
        assert alg.helpUrl().endswith("#qgis-plugin") and alg.shortHelpString()


def test_engine_failure_and_overwrite_probe(provider, fake_engine, utm_raster, tmp_path):
    """Failure injection: the engine's message reaches Processing; --overwrite when listed."""
    import processing
    from qgis.core import QgsProcessingException

    feedback = Feedback()
    processing.run(
        "roadseg:segmentroads",
        {
            "INPUT": str(utm_raster),
            "OUTPUT_RASTER": str(tmp_path / "c.tif"),
            "OUTPUT_VECTORS": str(tmp_path / "r.gpkg"),
        },
        feedback=feedback,
    )
    assert "--overwrite" in fake_engine.calls()[-1]  # this engine's predict --help lists it
    fake_engine.mode("fail")
    with pytest.raises(QgsProcessingException, match="is damaged"):
        processing.run(
            "roadseg:segmentroads",
            {
                "INPUT": str(utm_raster),
                "OUTPUT_RASTER": str(tmp_path / "c2.tif"),
                "OUTPUT_VECTORS": str(tmp_path / "r2.gpkg"),
            },
        )
    assert not (tmp_path / "r2.gpkg").exists()


def test_train_road_model_from_memory_layer(provider, fake_engine, utm_raster, tmp_path):
    """The argument mapping of Train road model, DEVICE cuda included.

    The fake engine stands in because training on CUDA cannot run here (no GPU); the
    real training run is test_real_processing_train_model (slow).
    """
    import processing
    from qgis.core import QgsFeature, QgsField, QgsGeometry, QgsProject, QgsVectorLayer
    from qgis.PyQt.QtCore import QVariant

    lines = QgsVectorLayer("LineString?crs=EPSG:32611", "labels", "memory")
    lines.dataProvider().addAttributes([QgsField("kind", QVariant.String)])
    lines.updateFields()
    f = QgsFeature(lines.fields())
    f.setGeometry(QgsGeometry.fromWkt("LINESTRING(500000 3999984, 500032 3999984)"))
    f["kind"] = "major"
    lines.dataProvider().addFeatures([f])
    QgsProject.instance().addMapLayer(lines)
    res = processing.run(
        "roadseg:trainmodel",
        {
            "INPUT": str(utm_raster),
            "LABELS": lines,
            "CLASS_FIELD": "kind",
            "EPOCHS": 2,
            "DEVICE": 2,
            "TILE": 64,
            "SAMPLES_PER_EPOCH": 16,
            "OUTPUT": str(tmp_path / "run"),
        },
    )
    assert res["MODEL"] == str(tmp_path / "run" / "model.safetensors")
    argv = fake_engine.calls()[-1]
    labels = argv[argv.index("--labels") + 1]
    assert argv[argv.index("--accelerator") + 1] == "gpu"  # DEVICE cuda → Lightning's accelerator
    assert argv[argv.index("--tile") + 1] == "64"
    assert argv[argv.index("--samples-per-epoch") + 1] == "16"
    assert "--batch-size" not in argv and "--init-from" not in argv
    assert labels.endswith(".gpkg") and labels != lines.source()
    assert (
        argv[argv.index("--class-field") + 1] == "kind" and argv[argv.index("--epochs") + 1] == "2"
    )


@pytest.mark.slow
def test_model_builder_chain(provider, real_engine, real_scene, tmp_path):
    """Segment → Vectorise inside a Model Builder model, run with processing.run."""
    import processing
    from qgis.core import (
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterRasterLayer,
    )

    raster, _model = real_scene
    model = QgsProcessingModelAlgorithm("roads chain", "tests")
    model.addModelParameter(
        QgsProcessingParameterRasterLayer("imagery", "Imagery"),
        QgsProcessingModelParameter("imagery"),
    )
    seg = QgsProcessingModelChildAlgorithm("roadseg:segmentroads")
    seg.setChildId("seg")
    seg.addParameterSources(
        "INPUT", [QgsProcessingModelChildParameterSource.fromModelParameter("imagery")]
    )
    for name, value in (("OUTPUT_RASTER", "c.tif"), ("OUTPUT_VECTORS", "r.gpkg")):
        seg.addParameterSources(
            name, [QgsProcessingModelChildParameterSource.fromStaticValue(str(tmp_path / value))]
        )
    model.addChildAlgorithm(seg)
    vec = QgsProcessingModelChildAlgorithm("roadseg:vectorizeroads")
    vec.setChildId("vec")
    vec.addParameterSources(
        "INPUT", [QgsProcessingModelChildParameterSource.fromChildOutput("seg", "OUTPUT_RASTER")]
    )
    out = QgsProcessingModelOutput("vectors", "Vectors")
    out.setChildOutputName("OUTPUT")
    out.setChildId("vec")
    vec.setModelOutputs({"vectors": out})
    model.addChildAlgorithm(vec)
    res = processing.run(
        model, {"imagery": str(raster), "vec:vectors": str(tmp_path / "chain.gpkg")}
    )
    assert "centerlines" in _layers_of(res["vec:vectors"])


@pytest.mark.slow
def test_batch_of_rasters(provider, real_engine, real_scene, tmp_path):
    """Batch mode runs the algorithm once per row: several rasters, one output each."""
    import processing

    _raster, _model = real_scene
    for i in range(2):
        r = make_raster(tmp_path / f"img{i}.tif", origin=(500_000.0 + 100 * i, 4_000_000.0))
        processing.run(
            "roadseg:segmentroads",
            {
                "INPUT": str(r),
                "OUTPUT_RASTER": str(tmp_path / f"c{i}.tif"),
                "OUTPUT_VECTORS": str(tmp_path / f"r{i}.gpkg"),
            },
        )
    assert sorted(p.name for p in tmp_path.glob("c*.tif")) == ["c0.tif", "c1.tif"]
    assert add_raster(tmp_path / "c1.tif", "c1").extent().xMinimum() == pytest.approx(500_100.0)


@pytest.mark.slow
def test_real_processing_train_model(provider, real_engine, tmp_path):
    """Train road model through Processing with the real engine (tiny run), then describe it."""
    import processing
    from conftest import REAL_ENGINE, real_env
    from qgis.core import QgsVectorLayer

    scene = tmp_path / "scene"
    subprocess.run(
        [str(REAL_ENGINE), "synth", str(scene), "--size", "256", "--seed", "5"],
        check=True,
        capture_output=True,
        timeout=300,
        env=real_env(),
    )
    labels = QgsVectorLayer(str(scene / "roads.gpkg"), "roads", "ogr")
    assert labels.isValid()
    res = processing.run(
        "roadseg:trainmodel",
        {
            "INPUT": str(scene / "image.tif"),
            "LABELS": labels,
            "EPOCHS": 1,
            "DEVICE": 1,
            "TILE": 64,
            "BATCH_SIZE": 2,
            "SAMPLES_PER_EPOCH": 8,
            "OUTPUT": str(tmp_path / "run"),
        },
    )
    model = Path(res["MODEL"])
    assert model.is_file() and model.parent == tmp_path / "run"
    out = subprocess.run(
        [str(REAL_ENGINE), "models", "--info", str(model), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=real_env(),
    )
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["classes"][0] == "background" and len(info["classes"]) >= 2


@pytest.mark.slow
def test_killing_qgis_process_stops_the_engine(plugins_dir, real_engine, tmp_path):
    """qgis_process runs Segment roads with the real engine; kill -9 it: the engine stops too."""
    from conftest import REAL_ENGINE_COMMAND

    home = tmp_path / "home"
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "QGIS_OPTS": "",  # Debian's /etc/default/qgis passes --noversioncheck, unknown to it
        "QGIS_PLUGINPATH": str(plugins_dir),
        "ROADSEG_ENGINE": REAL_ENGINE_COMMAND,
        "QT_QPA_PLATFORM": "offscreen",
        "QGIS_CUSTOM_CONFIG_PATH": str(home / "qgis"),  # its own profile, not pytest-qgis's
        "QGIS_OPTIONS_PATH": str(home / "qgis"),
    }
    env.pop("PYTHONPATH", None)
    exe = "/usr/bin/qgis_process.bin"
    if not Path(exe).exists():
        pytest.skip("qgis_process.bin not installed")
    subprocess.run([exe, "plugins", "enable", "roadseg_qgis"], env=env, check=True, timeout=120)
    big = make_raster(tmp_path / "big.tif", 1536, 1536)
    log = tmp_path / "log.txt"
    with open(log, "w") as out:
        qp = subprocess.Popen(
            [exe, "run", "roadseg:segmentroads", "--", f"INPUT={big}", "MAX_AREA_KM2=0",
             f"OUTPUT_RASTER={tmp_path / 'c.tif'}", f"OUTPUT_VECTORS={tmp_path / 'r.gpkg'}"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        assert wait_until(lambda: "predict:" in log.read_text(), 180), log.read_text()[-2000:]
        children = subprocess.run(
            ["pgrep", "-P", str(qp.pid)], capture_output=True, text=True
        ).stdout.split()
        assert children, "no engine process under qgis_process"
        engine = int(children[0])
        qp.send_signal(signal.SIGKILL)
        qp.wait(10)
        t0 = time.monotonic()
        while process_alive(engine) and time.monotonic() - t0 < 30:
            time.sleep(0.05)
        gone_after = time.monotonic() - t0
        assert gone_after < 8, f"the engine ran on {gone_after:.1f} s after qgis_process died"
        assert not (tmp_path / "c.tif").exists() and not (tmp_path / "r.gpkg").exists()
    finally:
        if qp.poll() is None:
            qp.kill()


def test_check_model_fit_rates_rasters(provider, real_engine, tmp_path):
    """Check model fit runs `roadseg check-fit` with the algorithm's parameters: a rating, the
    ground sampled, a warning when poor; nothing written; a web layer is refused."""
    import processing
    from qgis.core import QgsProcessingException

    big = make_raster(tmp_path / "big.tif", width=1200, height=1100, pixel=1.0)  # 1.32 km²
    feedback = Feedback()
    res = processing.run(
        "roadseg:checkfit",
        {"INPUT": str(big), "SAMPLES": 4, "SAMPLE_M": 128, "ROAD_THRESHOLD": 0.55},
        feedback=feedback,
    )
    assert res["RATING"] in ("good", "fair", "poor", "no road found", "no imagery")
    assert res["AREA_KM2"] == pytest.approx(1.32, rel=0.01)
    assert res["SAMPLED_KM2"] == pytest.approx(4 * 0.128**2, rel=0.01)
    cmd = feedback.commands[0]
    assert "check-fit" in cmd and "--samples 4" in cmd and "--sample-m 128" in cmd
    assert "--road-threshold 0.55" in cmd
    written = {p.name for p in tmp_path.iterdir()} - {"big.tif", "big.tif.aux.xml"}
    assert not written  # (QGIS itself keeps statistics in the .aux.xml when it opens the layer)
    # the cross pattern is nothing like aerial imagery: poor, said as a warning
    assert res["RATING"] == "poor" and 0.6 <= res["UNSURE_SHARE"] <= 1.0

    from qgis.core import QgsProject, QgsRasterLayer

    uri = "type=xyz&url=https://tile.openstreetmap.org/%7Bz%7D/%7Bx%7D/%7By%7D.png&zmax=19"
    web = QgsRasterLayer(uri, "OpenStreetMap", "wms")
    QgsProject.instance().addMapLayer(web)
    with pytest.raises(QgsProcessingException, match="not a raster file on disk"):
        processing.run("roadseg:checkfit", {"INPUT": web, "EXTENT": "0,10,0,10 [EPSG:3857]"})
