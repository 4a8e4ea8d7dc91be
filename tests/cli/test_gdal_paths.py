"""GDAL paths as GDAL reads them: /vsizip/, zip://, /vsimem/ and a COG over HTTP (with Range).

Each input gives the same class raster as the plain file it holds.
"""

from __future__ import annotations

import http.server
import re
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from catalogue import road_image, run_cli, tiny_model, write_tif
from rasterio.io import MemoryFile

FAST = {"tile": 64, "overlap": 16, "batch_size": 1, "precision": "fp32"}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gdal_paths")
    scene = write_tif(root / "scene.tif", road_image(96, 96, seed=5))
    model = tiny_model(root / "model.safetensors")
    with zipfile.ZipFile(root / "archive.zip", "w") as z:
        z.write(scene, "inner/scene.tif")
    ref = root / "ref.tif"
    from roadseg import predict

    predict(scene, model, ref, **FAST)
    return {"root": root, "scene": scene, "model": model, "zip": root / "archive.zip", "ref": ref}


def classes_of(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def test_paths_keep_their_double_slashes():
    from roadseg.geo.paths import as_source, stem_of

    assert as_source("https://example.com/a/b.tif") == "https://example.com/a/b.tif"
    assert as_source("/vsicurl/https://example.com/b.tif") == "/vsicurl/https://example.com/b.tif"
    assert as_source(Path("https://example.com/b.tif")) == "https://example.com/b.tif"
    assert stem_of("zip://x.zip!/in/b.tif") == "b"


@pytest.mark.parametrize("form", ["vsizip", "zip"])
def test_a_raster_inside_a_zip(files, tmp_path, form):
    z = files["zip"]
    src = f"/vsizip/{z}/inner/scene.tif" if form == "vsizip" else f"zip://{z}!/inner/scene.tif"
    r = run_cli("info", src, "--json")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1].count('"width": 96') == 1
    out = tmp_path / "o.tif"
    r = run_cli("predict", src, "--model", files["model"], "--out", out, "--tile", "64",
                "--overlap", "16", "--batch-size", "1", "--precision", "fp32",
                "--vectorize", tmp_path / "o.gpkg", "--progress", "none")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert np.array_equal(classes_of(out), classes_of(files["ref"]))
    assert (tmp_path / "o.gpkg").exists()
    # Outputs of several inputs are named after the file inside the archive.
    r = run_cli("predict", src, files["scene"], "--model", files["model"], "--out",
                tmp_path / "many", "--tile", "64", "--precision", "fp32", "--progress", "none")  # fmt: skip
    assert r.exit_code == 1 and "several inputs are named 'scene'" in r.stderr


def test_a_missing_member_of_a_zip_is_named(files):
    r = run_cli("info", f"/vsizip/{files['zip']}/inner/nope.tif")
    assert r.exit_code == 1 and "nope.tif" in r.stderr and len(r.stderr.splitlines()) == 1


def test_a_raster_in_memory(files, tmp_path):
    """A /vsimem/ raster written with rasterio's MemoryFile, predicted through the API."""
    from roadseg import predict, vectorize

    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=96, height=96, count=3, dtype="uint8",
                      crs="EPSG:32611", transform=rasterio.open(files["scene"]).transform) as ds:  # fmt: skip
            ds.write(road_image(96, 96, seed=5))
        assert mem.name.startswith("/vsimem/")
        res = predict(mem.name, files["model"], tmp_path / "o.tif", **FAST)
    assert res.items[0].raster == mem.name
    assert np.array_equal(classes_of(tmp_path / "o.tif"), classes_of(files["ref"]))
    # A class raster in memory vectorises too.
    with MemoryFile(Path(files["ref"]).read_bytes()) as mem:
        v = vectorize(mem.name, tmp_path / "v.gpkg")
    assert v.gpkg == tmp_path / "v.gpkg" and v.gpkg.exists()


def test_warnings_name_a_gdal_path_by_its_file(files, tmp_path):
    """A 4-band raster in memory, with a `gsd` it does not need: both warnings name the file."""
    from roadseg import predict

    bands = np.concatenate([road_image(96, 96, seed=5), np.full((1, 96, 96), 7, np.uint8)])
    with MemoryFile(filename="four.tif") as mem:
        with mem.open(driver="GTiff", width=96, height=96, count=4, dtype="uint8",
                      photometric="MINISBLACK",  # a 4th band, not alpha
                      crs="EPSG:32611", transform=rasterio.open(files["scene"]).transform) as ds:  # fmt: skip
            ds.write(bands)
        res = predict(mem.name, files["model"], tmp_path / "o.tif", gsd=0.5, **FAST)
    texts = [str(w) for w in res.warnings]
    assert any(t.startswith("four.tif: 4 bands") for t in texts), texts
    assert any(t.startswith("four.tif is georeferenced") for t in texts), texts
    assert np.array_equal(classes_of(tmp_path / "o.tif"), classes_of(files["ref"]))


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """The standard file server plus HTTP Range requests (GDAL reads COGs by ranges)."""

    def log_message(self, *args: object) -> None:
        pass

    def send_head(self):  # noqa: ANN201 - stdlib override
        rng = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not rng or not path.is_file():
            return super().send_head()
        m = re.match(r"bytes=(\d+)-(\d*)", rng)
        if not m:
            return super().send_head()
        size = path.stat().st_size
        start = int(m.group(1))
        end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
        if start >= size:
            self.send_error(416)
            return None
        f = open(path, "rb")  # noqa: SIM115 - the base class closes it after copyfile
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self._remaining = end - start + 1
        return f

    def copyfile(self, source, outputfile) -> None:  # noqa: ANN001 - stdlib override
        n = getattr(self, "_remaining", None)
        if n is None:
            return super().copyfile(source, outputfile)
        outputfile.write(source.read(n))
        self._remaining = None
        return None


@pytest.fixture
def cog_server(files, tmp_path, monkeypatch) -> Iterator[str]:
    """A COG of the scene served on the loopback interface."""
    from rasterio.shutil import copy

    www = tmp_path / "www"
    www.mkdir()
    copy(files["scene"], www / "scene_cog.tif", driver="COG", compress="DEFLATE")
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR")

    def handler(*a, **kw):
        return RangeHandler(*a, directory=str(www), **kw)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_cog_over_http(files, cog_server, tmp_path):
    url = f"{cog_server}/scene_cog.tif"
    for src in (url, f"/vsicurl/{url}"):
        r = run_cli("info", src)
        assert r.exit_code == 0, r.stderr
        assert "96 x 96 px" in r.stdout
    out = tmp_path / "o.tif"
    r = run_cli("predict", url, "--model", files["model"], "--out", out, "--tile", "64",
                "--overlap", "16", "--batch-size", "1", "--precision", "fp32",
                "--progress", "none")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert np.array_equal(classes_of(out), classes_of(files["ref"]))
    r = run_cli("predict", url, "--model", files["model"], "--out", tmp_path / "folder",
                "--tile", "64", "--precision", "fp32", "--progress", "none")  # fmt: skip
    assert r.exit_code == 0 and (tmp_path / "folder" / "scene_cog_roads.tif").exists()


def test_a_missing_url_is_named(cog_server):
    r = run_cli("info", f"{cog_server}/nothing.tif")
    assert r.exit_code == 1 and "nothing.tif" in r.stderr
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr


def test_outputs_are_local(files, tmp_path):
    r = run_cli("predict", files["scene"], "--model", files["model"], "--out",
                "/vsimem/o.tif", "--progress", "none")  # fmt: skip
    assert r.exit_code == 1 and "--out '/vsimem/o.tif' is not a local path" in r.stderr


def test_the_plugin_offers_gdal_rasters(files):
    """The plugin hands the engine the GDAL paths it reads (it never imports rasterio)."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "qgis_plugin" / "core" / "sources.py"
    spec = importlib.util.spec_from_file_location("_plugin_sources", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    is_engine_raster, source_path = mod.is_engine_raster, mod.source_path

    assert is_engine_raster(source_path(f"/vsizip/{files['zip']}/inner/scene.tif|x"))
    assert is_engine_raster("/vsicurl/https://example.com/cog.tif")
    assert is_engine_raster(str(files["scene"])) and not is_engine_raster("/nonexistent/a.tif")
