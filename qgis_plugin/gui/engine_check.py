"""*Test engine* as a background task, with the test raster written by GDAL from QGIS."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from qgis.core import QgsTask
from qgis.PyQt.QtCore import pyqtSignal

from ..core.check import STEP_COUNT, TEST_SIZE_PX, CheckReport, CheckStep, check_engine
from ..core.engine import EngineCommand, engine_env
from ..core.i18n import tr
from . import prefs


def write_test_raster(path: Path, bands: int = 3, pixel_m: float = 0.5) -> None:
    """Write a 64 px GeoTIFF (UTM 11N, a road-like cross on a textured ground) with GDAL."""
    from osgeo import gdal, osr

    size = TEST_SIZE_PX
    driver = gdal.GetDriverByName("GTiff")
    ds = driver.Create(str(path), size, size, bands, gdal.GDT_Byte)
    if ds is None:
        raise OSError(gdal.GetLastErrorMsg() or f"cannot create {path}")
    try:
        ds.SetGeoTransform((500_000.0, pixel_m, 0.0, 4_000_000.0, 0.0, -pixel_m))
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(32611)
        ds.SetProjection(srs.ExportToWkt())
        pixels = bytearray()
        for r in range(size):
            for c in range(size):
                road = abs(r - size // 2) < 3 or abs(c - size // 3) < 2
                pixels.append(200 if road else 60 + (r * 7 + c * 3) % 50)
        for b in range(bands):
            ds.GetRasterBand(b + 1).WriteRaster(0, 0, size, size, bytes(pixels))
        ds.FlushCache()
    finally:
        ds = None


class EngineCheckTask(QgsTask):
    """Run :func:`core.check.check_engine` in a worker thread.

    Signals:
        stepChanged(int, str): step number (from 1) and title, as each step starts.

    Attributes:
        report: The check's report once it ran.

    """

    stepChanged = pyqtSignal(int, str)  # noqa: N815 - Qt signal naming

    def __init__(
        self, engine: EngineCommand, model: str, on_done: Callable[[EngineCheckTask], None]
    ) -> None:
        super().__init__(tr("roadseg: Test engine"), QgsTask.Flag.CanCancel)
        self.engine = engine
        self.model = model
        self.on_done = on_done
        self.report: CheckReport | None = None

    def _step(self, number: int, title: str) -> None:
        self.setProgress(100.0 * (number - 1) / STEP_COUNT)
        self.stepChanged.emit(number, title)

    def run(self) -> bool:
        """Run the checks (worker thread)."""
        workdir = Path(tempfile.mkdtemp(prefix="roadseg-test-engine-"))
        try:
            self.report = check_engine(
                self.engine,
                self.model,
                workdir,
                write_test_raster,
                env=engine_env(),
                is_cancelled=self.isCanceled,
                on_step=self._step,
            )
        except Exception as exc:  # noqa: BLE001 - a worker thread must never raise into Qt
            step = CheckStep(tr("Test engine"), False, repr(exc))
            self.report = CheckReport(self.engine.text, (step,))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return True

    def finished(self, ok: bool) -> None:  # noqa: FBT001 - QgsTask API
        """Back in the main thread: remember the devices found, then report."""
        report = self.report
        if report is not None and report.device:
            prefs.record_device(report.device, auto=True)
        if report is not None and report.devices:
            prefs.set_devices_found([d.family for d in report.devices])
        self.on_done(self)
