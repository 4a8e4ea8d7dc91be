"""The Processing algorithms through processing.run and a Model Builder model (fake engine)."""

from __future__ import annotations

import pytest
from qgis_helpers import add_raster

pytestmark = pytest.mark.qgis


@pytest.fixture
def provider(plugin, qgis_processing):
    return plugin.provider


def _layers_of(path):
    from qgis.core import QgsProviderRegistry

    md = QgsProviderRegistry.instance().providerMetadata("ogr")
    return sorted(s.name() for s in md.querySublayers(str(path)))


def test_segment_roads(provider, fake_engine, utm_raster, tmp_path):
    import processing

    res = processing.run(
        "roadseg:segmentroads",
        {
            "INPUT": str(utm_raster),
            "EXTENT": "500000,500016,3999984,4000000 [EPSG:32611]",
            "DEVICE": 1,
            "TILE": 256,
            "OUTPUT_RASTER": str(tmp_path / "c.tif"),
            "OUTPUT_VECTORS": str(tmp_path / "r.gpkg"),
        },
    )
    assert res["OUTPUT_VECTORS"] == str(tmp_path / "r.gpkg") and (tmp_path / "c.tif").exists()
    assert _layers_of(tmp_path / "r.gpkg") == [
        "centerlines",
        "roads_major",
        "roads_minor",
        "roads_track",
    ]
    assert len(res["LAYERS"]) == 4 and res["CENTERLINES"].endswith("|layername=centerlines")
    argv = fake_engine.calls()[-1]
    i = argv.index("--bbox")
    assert [float(v) for v in argv[i + 1 : i + 5]] == pytest.approx(
        [500000, 3999984, 500016, 4000000]
    )
    assert argv[argv.index("--device") + 1] == "cpu" and argv[argv.index("--tile") + 1] == "256"
    assert "--overlap" not in argv


def test_segment_roads_extent_in_other_crs(provider, fake_engine, utm_raster, tmp_path):
    import processing
    from qgis.core import (
        QgsCoordinateReferenceSystem,
        QgsCoordinateTransform,
        QgsProject,
        QgsRectangle,
    )

    tr = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:32611"),
        QgsCoordinateReferenceSystem("EPSG:4326"),
        QgsProject.instance(),
    )
    r = tr.transformBoundingBox(QgsRectangle(500008, 3999976, 500024, 3999992))
    extent = f"{r.xMinimum()!r},{r.xMaximum()!r},{r.yMinimum()!r},{r.yMaximum()!r} [EPSG:4326]"
    processing.run(
        "roadseg:segmentroads",
        {
            "INPUT": str(utm_raster),
            "EXTENT": extent,
            "OUTPUT_RASTER": str(tmp_path / "c.tif"),
            "OUTPUT_VECTORS": str(tmp_path / "r.gpkg"),
        },
    )
    argv = fake_engine.calls()[-1]
    i = argv.index("--bbox")
    bbox = [float(v) for v in argv[i + 1 : i + 5]]
    assert argv[argv.index("--bbox-crs") + 1] == "EPSG:32611"
    assert bbox == pytest.approx([500008, 3999976, 500024, 3999992], abs=0.6)


def test_segment_roads_errors(provider, fake_engine, utm_raster, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    with pytest.raises(QgsProcessingException):
        processing.run(
            "roadseg:segmentroads",
            {
                "INPUT": str(utm_raster),
                "EXTENT": "0,1,0,1 [EPSG:32611]",
                "OUTPUT_RASTER": str(tmp_path / "c.tif"),
                "OUTPUT_VECTORS": str(tmp_path / "r.gpkg"),
            },
        )
    fake_engine.mode("fail")
    with pytest.raises(QgsProcessingException, match="is damaged"):
        processing.run(
            "roadseg:segmentroads",
            {
                "INPUT": str(utm_raster),
                "OUTPUT_RASTER": str(tmp_path / "c.tif"),
                "OUTPUT_VECTORS": str(tmp_path / "r.gpkg"),
            },
        )
    assert not (tmp_path / "r.gpkg").exists()


def test_vectorize_road_raster(provider, fake_engine, utm_raster, tmp_path):
    import processing

    processing.run(
        "roadseg:segmentroads",
        {
            "INPUT": str(utm_raster),
            "OUTPUT_RASTER": str(tmp_path / "c.tif"),
            "OUTPUT_VECTORS": str(tmp_path / "r.gpkg"),
        },
    )
    res = processing.run(
        "roadseg:vectorizeroads",
        {"INPUT": str(tmp_path / "c.tif"), "OUTPUT": str(tmp_path / "v.gpkg")},
    )
    assert res["OUTPUT"] == str(tmp_path / "v.gpkg")
    assert "centerlines" in _layers_of(tmp_path / "v.gpkg")
    assert fake_engine.calls()[-1][:4] == [
        "vectorize",
        str(tmp_path / "c.tif"),
        "--out",
        str(tmp_path / "v.gpkg"),
    ]


def test_train_road_model_from_memory_layer(provider, fake_engine, utm_raster, tmp_path):
    """Labels from a non-file layer are exported for the engine; the class field is passed."""
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
    assert (
        argv[argv.index("--tile") + 1] == "64"
        and argv[argv.index("--samples-per-epoch") + 1] == "16"
    )
    assert "--batch-size" not in argv and "--init-from" not in argv
    assert labels.endswith(".gpkg") and labels != lines.source()
    assert (
        argv[argv.index("--class-field") + 1] == "kind" and argv[argv.index("--epochs") + 1] == "2"
    )


def test_model_builder_chain(provider, fake_engine, utm_raster, tmp_path):
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
    seg.addParameterSources(
        "OUTPUT_RASTER",
        [QgsProcessingModelChildParameterSource.fromStaticValue(str(tmp_path / "c.tif"))],
    )
    seg.addParameterSources(
        "OUTPUT_VECTORS",
        [QgsProcessingModelChildParameterSource.fromStaticValue(str(tmp_path / "r.gpkg"))],
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
    errors = model.validate() if hasattr(model, "validate") else (True, [])
    assert errors[0], errors
    res = processing.run(
        model, {"imagery": str(utm_raster), "vec:vectors": str(tmp_path / "chain.gpkg")}
    )
    assert "centerlines" in _layers_of(res["vec:vectors"])
    assert [c[0] for c in fake_engine.calls()[-2:]] == ["predict", "vectorize"]


def test_batch_of_rasters(provider, fake_engine, tmp_path):
    """Batch mode runs the algorithm once per row: several rasters, one output each."""
    import processing
    from qgis_helpers import make_raster

    for i in range(3):
        r = make_raster(tmp_path / f"img{i}.tif", origin=(500_000.0 + 100 * i, 4_000_000.0))
        processing.run(
            "roadseg:segmentroads",
            {
                "INPUT": str(r),
                "OUTPUT_RASTER": str(tmp_path / f"c{i}.tif"),
                "OUTPUT_VECTORS": str(tmp_path / f"r{i}.gpkg"),
            },
        )
    assert sorted(p.name for p in tmp_path.glob("r*.gpkg")) == ["r0.gpkg", "r1.gpkg", "r2.gpkg"]
    assert add_raster(tmp_path / "c2.tif", "c2").extent().xMinimum() == pytest.approx(500_200.0)


def test_segment_roads_loads_styled_layers(
    provider, fake_engine, utm_raster, tmp_path, qgis_new_project
):
    """From the toolbox (runAndLoadResults): road layers are added, styled from the outputs."""
    import processing
    from qgis.core import QgsCategorizedSymbolRenderer, QgsProject

    processing.runAndLoadResults(
        "roadseg:segmentroads",
        {
            "INPUT": str(utm_raster),
            "OUTPUT_RASTER": str(tmp_path / "c.tif"),
            "OUTPUT_VECTORS": str(tmp_path / "r.gpkg"),
        },
    )
    layers = {lyr.name(): lyr for lyr in QgsProject.instance().mapLayers().values()}
    assert {"centrelines", "major roads", "minor roads", "track roads"} <= set(layers)
    r = layers["centrelines"].renderer()
    assert isinstance(r, QgsCategorizedSymbolRenderer)
    assert {c.value() for c in r.categories()} == {"major", "minor", "track"}
    # Colours from the class raster palette (fake engine: major 230,85,13; track 140,109,49).
    assert layers["major roads"].renderer().symbol().color().name() == "#e6550d"
    assert layers["track roads"].renderer().symbol().color().name() == "#8c6d31"
    QgsProject.instance().removeAllMapLayers()
    processing.run(
        "roadseg:vectorizeroads",
        {
            "INPUT": str(tmp_path / "c.tif"),
            "OUTPUT": str(tmp_path / "v.gpkg"),
            "LOAD_LAYERS": False,
        },
    )
    assert QgsProject.instance().mapLayers() == {}
