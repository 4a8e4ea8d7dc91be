"""Helpers for the QGIS plugin tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

FAKE_ENGINE = Path(__file__).with_name("fake_engine.py")


class FakeEngine:
    """Controls tests/qgis/fake_engine.py through the environment."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.command = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_ENGINE))}"

    def mode(self, mode: str) -> None:
        os.environ["FAKE_ROADSEG_MODE"] = mode

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


def make_raster(
    path: Path,
    width: int = 64,
    height: int = 64,
    epsg: int | None = 32611,
    origin: tuple[float, float] = (500_000.0, 4_000_000.0),
    pixel: float = 0.5,
    bands: int = 3,
) -> Path:
    """A small uint8 GeoTIFF with a road-like cross pattern (GDAL only)."""
    from osgeo import gdal, osr

    gdal.UseExceptions()
    ds = gdal.GetDriverByName("GTiff").Create(str(path), width, height, bands, gdal.GDT_Byte)
    ds.SetGeoTransform((origin[0], pixel, 0, origin[1], 0, -pixel))
    if epsg is not None:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        ds.SetProjection(srs.ExportToWkt())
    rows = bytearray()
    for r in range(height):
        for c in range(width):
            road = abs(r - height // 2) < 3 or abs(c - width // 3) < 2
            rows.append(200 if road else (60 + (r * 7 + c * 3) % 50))
    for b in range(bands):
        ds.GetRasterBand(b + 1).WriteRaster(0, 0, width, height, bytes(rows))
    ds = None
    return path


def add_raster(path: Path, name: str = "imagery"):  # noqa: ANN201
    """Add a raster layer to the current project."""
    from qgis.core import QgsProject, QgsRasterLayer

    layer = QgsRasterLayer(str(path), name)
    assert layer.isValid(), path
    QgsProject.instance().addMapLayer(layer)
    return layer


def set_canvas(iface, layer, crs: str | None = None, extent=None) -> None:  # noqa: ANN001
    """Point the canvas at ``layer`` (optionally in another CRS)."""
    from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProject

    canvas = iface.mapCanvas()
    dst = QgsCoordinateReferenceSystem(crs) if crs else layer.crs()
    QgsProject.instance().setCrs(dst)
    canvas.setDestinationCrs(dst)
    rect = extent
    if rect is None:
        rect = QgsCoordinateTransform(layer.crs(), dst, QgsProject.instance()).transformBoundingBox(
            layer.extent()
        )
    canvas.setExtent(rect)
    canvas.refresh()


def choose(combo, data) -> None:  # noqa: ANN001
    """Choose the item of a combo box whose data is ``data`` (fails when there is none).

    ``combo.setCurrentIndex(combo.findData(x))`` would silently keep the current item when
    ``x`` is renamed: the test would then run with the default.
    """
    idx = combo.findData(data)
    assert idx >= 0, f"no item with data {data!r} in the combo box"
    combo.setCurrentIndex(idx)


def wait_until(cond: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Process Qt events until ``cond()`` is true or the timeout passes."""
    from qgis.PyQt.QtCore import QCoreApplication

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        if cond():
            return True
        time.sleep(0.02)
    QCoreApplication.processEvents()
    return cond()


def run_to_end(plugin, task, timeout: float = 120.0) -> None:  # noqa: ANN001
    """Wait until the plugin handled the end of ``task``."""
    assert task is not None
    assert wait_until(lambda: task in plugin.finished_tasks, timeout), (
        "the task did not finish in time"
    )


LEVELS = ("info", "warning", "critical", "success")


def _level(level: str):  # noqa: ANN202
    from qgis.core import Qgis

    return {
        "info": Qgis.MessageLevel.Info,
        "warning": Qgis.MessageLevel.Warning,
        "critical": Qgis.MessageLevel.Critical,
        "success": Qgis.MessageLevel.Success,
    }[level]


def messages(iface, level: str) -> list[str]:  # noqa: ANN001
    """Messages pushed to the (mock) message bar at ``level``, with or without buttons."""
    bar = iface.messageBar()
    lv = _level(level)
    out = list(bar.get_messages(lv))
    out += [f"{i.title()}:{i.text()}" for i in bar.items() if i.level() == lv]
    return out


def summary_level(task) -> str:  # noqa: ANN001
    """The level of a Map roads run's summary: ``warning`` when the engine rated its confidence
    poor (the summary then says the model was unsure and offers Adapt model), else ``success``.
    """
    metrics = (task.result.result or {}).get("metrics") or {}
    return "warning" if (metrics.get("confidence") or {}).get("rating") == "poor" else "success"


def message_buttons(iface, level: str) -> dict[str, object]:  # noqa: ANN001
    """The buttons of the last message with buttons at ``level``: {text: QPushButton}."""
    from qgis.PyQt.QtWidgets import QPushButton

    items = [i for i in iface.messageBar().items() if i.level() == _level(level)]
    if not items:
        return {}
    return {b.text(): b for b in items[-1].findChildren(QPushButton)}


def project_layers():  # noqa: ANN201
    """Layers in the current project."""
    from qgis.core import QgsProject

    return list(QgsProject.instance().mapLayers().values())


def process_alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting for init to reap it has stopped running)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


#: Half the side of the Web Mercator square (metres).
MERCATOR_HALF = 20037508.342789244


def write_xyz_tiles(image: Path, folder: Path, zoom: int) -> int:
    """Cut a GeoTIFF into 256 px XYZ tiles ``folder/{z}/{x}/{y}.png`` (GDAL warp + PIL).

    Returns the number of tiles written (the tiles that the image touches; outside it black).
    """
    from osgeo import gdal
    from PIL import Image

    gdal.UseExceptions()
    src = gdal.Open(str(image))
    vrt = gdal.Warp("", src, format="VRT", dstSRS="EPSG:3857")
    gt, w, h = vrt.GetGeoTransform(), vrt.RasterXSize, vrt.RasterYSize
    minx, maxy = gt[0], gt[3]
    maxx, miny = minx + gt[1] * w, maxy + gt[5] * h
    vrt = None
    span = 2 * MERCATOR_HALF / 2**zoom
    n = 0
    for tx in range(int((minx + MERCATOR_HALF) // span), int((maxx + MERCATOR_HALF) // span) + 1):
        for ty in range(
            int((MERCATOR_HALF - maxy) // span), int((MERCATOR_HALF - miny) // span) + 1
        ):
            left, top = -MERCATOR_HALF + tx * span, MERCATOR_HALF - ty * span
            tile = gdal.Warp(
                "",
                src,
                format="MEM",
                dstSRS="EPSG:3857",
                outputBounds=(left, top - span, left + span, top),
                width=256,
                height=256,
                resampleAlg="bilinear",
            )
            bands = [
                Image.frombytes("L", (256, 256), tile.GetRasterBand(i + 1).ReadRaster())
                for i in range(3)
            ]
            tile = None
            out = folder / str(zoom) / str(tx) / f"{ty}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            Image.merge("RGB", bands).save(out)
            n += 1
    src = None
    return n


def xyz_layer(folder: Path, zmax: int, name: str = "local tiles"):  # noqa: ANN201
    """An XYZ layer over ``file://`` tiles in ``folder``, added to the project."""
    from qgis.core import QgsProject, QgsRasterLayer

    url = (folder.as_uri() + "/{z}/{x}/{y}.png").replace("{", "%7B").replace("}", "%7D")
    layer = QgsRasterLayer(f"type=xyz&url={url}&zmax={zmax}&zmin=0", name, "wms")
    assert layer.isValid(), layer.source()
    QgsProject.instance().addMapLayer(layer)
    return layer
