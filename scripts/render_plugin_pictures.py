#!/usr/bin/env python3
"""Render the README's plugin pictures offscreen: the Map roads and Adapt dialogs, a result map.

The plugin runs exactly as in QGIS (dialog → parameters → background task → the
real engine as a subprocess → styled layers); this script only provides a
minimal QGIS interface and grabs the pixels:

* docs/images/plugin_dialog.png: the dialog (``QWidget.grab()``), after *Check fit*;
* docs/images/plugin_result.png: imagery plus the styled road layers
  (``QgsMapRendererParallelJob``), with the run's summary as a caption;
* docs/images/plugin_adapt.png: the Adapt model dialog set up on the same imagery with a
  road layer the user has (the synthetic scene's own roads, or ``--roads``).

Usage (QT_QPA_PLATFORM=offscreen is set for you):
    .venv/bin/python scripts/render_plugin_pictures.py [--model FILE] [--raster FILE]
        [--out docs/images] [--work DIR]

Without --raster the engine writes a synthetic scene (``roadseg synth``). Without
--model the embedded default model is used.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
MAX_BYTES = 500_000


def engine() -> str:
    """The engine program for this checkout (.venv/bin/roadseg); the plugin gets a command
    that runs it on this checkout's engine code (the plugin strips PYTHONPATH)."""
    exe = str(REPO / ".venv" / "bin" / "roadseg")
    os.environ.setdefault("ROADSEG_ENGINE", f"env PYTHONPATH={REPO / 'engine'} {exe}")
    return exe


def synth_scene(work: Path, seed: int, style: str) -> Path:
    """Return a synthetic scene from the engine (image.tif)."""
    out = work / "scene"
    cmd = [engine(), "synth", str(out), "--size", "768", "--seed", str(seed), "--style", style]
    env = {**os.environ, "PYTHONPATH": str(REPO / "engine")}
    subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return out / "image.tif"


class Iface:
    """The few parts of QgisInterface the plugin uses, for a headless run."""

    def __init__(self, canvas: Any, bar: Any, window: Any) -> None:
        self._canvas, self._bar, self._window = canvas, bar, window
        self.active = None
        self.messages: list[tuple[str, str]] = []

    def mapCanvas(self) -> Any:  # noqa: N802
        return self._canvas

    def messageBar(self) -> Any:  # noqa: N802
        return self._bar

    def mainWindow(self) -> Any:  # noqa: N802
        return self._window

    def activeLayer(self) -> Any:  # noqa: N802
        return self.active

    def addToolBarIcon(self, *_a: Any) -> None:  # noqa: N802
        pass

    def removeToolBarIcon(self, *_a: Any) -> None:  # noqa: N802
        pass

    def addPluginToMenu(self, *_a: Any) -> None:  # noqa: N802
        pass

    def removePluginMenu(self, *_a: Any) -> None:  # noqa: N802
        pass


def save_png(image: Any, path: Path) -> int:
    """Save a QImage as PNG, reducing colours if it would exceed MAX_BYTES."""
    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtGui import QImage

    image.save(str(path), "PNG", 9)
    if path.stat().st_size > MAX_BYTES:
        reduced = image.convertToFormat(QImage.Format_Indexed8, Qt.DiffuseDither | Qt.PreferDither)
        reduced.save(str(path), "PNG", 9)
    return path.stat().st_size


def render_map(
    layers: list, extent: Any, size: tuple[int, int], caption: list[str], legend: list
) -> Any:
    """Render ``layers`` (top first) over ``extent`` with a caption strip and a legend."""
    from qgis.core import QgsMapRendererParallelJob, QgsMapSettings
    from qgis.PyQt.QtCore import QRectF, QSize, Qt
    from qgis.PyQt.QtGui import QColor, QFont, QImage, QPainter, QPen

    ms = QgsMapSettings()
    ms.setLayers(layers)
    ms.setDestinationCrs(layers[-1].crs())
    ms.setOutputSize(QSize(*size))
    ms.setExtent(extent)
    ms.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererParallelJob(ms)
    job.start()
    job.waitForFinished()
    img = job.renderedImage()
    strip = 20 * len(caption) + 10
    out = QImage(size[0], size[1] + strip, QImage.Format_RGB32)
    out.fill(QColor(250, 250, 248))
    p = QPainter(out)
    p.setRenderHint(QPainter.Antialiasing)
    p.drawImage(0, 0, img)
    font = QFont()
    font.setPointSizeF(9.5)
    p.setFont(font)
    p.setPen(QColor(40, 40, 40))
    for i, line in enumerate(caption):
        p.setPen(QColor(40, 40, 40) if i == 0 else QColor(100, 100, 100))
        text_box = QRectF(10, size[1] + 5 + 20 * i, size[0] - 20, 20)
        p.drawText(text_box, Qt.AlignVCenter | Qt.AlignLeft, line)
    # Legend box in the top-left corner.
    row = 20
    box_w = 64 + max((p.fontMetrics().horizontalAdvance(t) for t, _c, _w in legend), default=60)
    p.setPen(Qt.NoPen)
    p.setBrush(QColor(255, 255, 255, 220))
    p.drawRoundedRect(QRectF(10, 10, box_w, 12 + row * len(legend)), 6, 6)
    for i, (label, color, line_px) in enumerate(legend):
        y = 16 + i * row
        p.setPen(QPen(QColor(*color), 1))
        p.setBrush(QColor(color[0], color[1], color[2], 95))
        p.drawRect(QRectF(20, y + 2, 28, 13))
        p.setPen(QPen(QColor(*color), line_px))
        p.drawLine(21, y + 8, 47, y + 8)
        p.setPen(QColor(30, 30, 30))
        p.drawText(QRectF(58, y, box_w - 52, row - 2), Qt.AlignVCenter | Qt.AlignLeft, label)
    p.end()
    return out


def adapt_dialog_picture(plugin: Any, raster: Any, roads: Path, path: Path) -> int:
    """Grab the Adapt model dialog set up on ``raster`` with the road lines ``roads``."""
    from qgis.core import QgsProject, QgsVectorLayer
    from qgis.PyQt.QtCore import QCoreApplication

    layer = QgsVectorLayer(str(roads), "roads you have", "ogr")
    assert layer.isValid(), roads
    QgsProject.instance().addMapLayer(layer)
    dlg = plugin.create_adapt_dialog()
    dlg.raster_combo.setLayer(raster)
    dlg.labels_combo.setLayer(layer)
    dlg.area_combo.setCurrentIndex(dlg.area_combo.findData("labels"))
    dlg.refresh()
    dlg.resize(640, dlg.sizeHint().height())
    dlg.show()
    QCoreApplication.processEvents()
    size = save_png(dlg.grab().toImage(), path)
    dlg.hide()
    QgsProject.instance().removeMapLayer(layer.id())
    return size


def main(argv: list[str] | None = None) -> int:
    """Render the pictures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model file (default: the embedded default model)")
    ap.add_argument("--raster", help="imagery (default: a synthetic scene from `roadseg synth`)")
    ap.add_argument("--seed", type=int, default=3, help="synthetic scene seed (default 3)")
    ap.add_argument("--style", default="rural", help="synthetic scene style (default rural)")
    ap.add_argument("--roads", help="road lines for the Adapt dialog (default: the scene's own)")
    ap.add_argument("--out", default=str(REPO / "docs" / "images"))
    ap.add_argument("--work", help="working folder (default: a temporary one)")
    args = ap.parse_args(argv)

    from qgis.core import QgsApplication, QgsProject, QgsRasterLayer
    from qgis.gui import QgsMapCanvas, QgsMessageBar
    from qgis.PyQt.QtCore import QCoreApplication, QSize
    from qgis.PyQt.QtWidgets import QMainWindow

    app = QgsApplication([], True)
    app.initQgis()
    work = Path(args.work or tempfile.mkdtemp(prefix="roadseg-pictures-"))
    work.mkdir(parents=True, exist_ok=True)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    engine()
    raster_path = Path(args.raster) if args.raster else synth_scene(work, args.seed, args.style)

    window = QMainWindow()
    canvas = QgsMapCanvas(window)
    canvas.resize(QSize(900, 700))
    bar = QgsMessageBar()
    iface = Iface(canvas, bar, window)
    captured: list[str] = []

    from qgis_plugin import classFactory

    plugin = classFactory(iface)
    plugin.initGui()
    notify = plugin.notify
    plugin.notify = lambda message, *a, **k: (captured.append(message), notify(message, *a, **k))
    project = QgsProject.instance()
    layer = QgsRasterLayer(str(raster_path), raster_path.stem if args.raster else "aerial scene")
    assert layer.isValid(), raster_path
    project.addMapLayer(layer)
    project.write(str(work / "roads-demo.qgz"))  # a saved project: results go next to it
    iface.active = layer
    canvas.setDestinationCrs(layer.crs())
    canvas.setLayers([layer])
    canvas.setExtent(layer.extent())

    dlg = plugin.create_dialog()
    if dlg is None:
        print("Error: the dialog did not open: " + " | ".join(captured), file=sys.stderr)
        return 1
    dlg.raster_combo.setLayer(layer)
    dlg.area_combo.setCurrentIndex(dlg.area_combo.findData("canvas"))
    dlg.loader.wait(120000)
    QCoreApplication.processEvents()
    if args.model:
        dlg.model_combo.setCurrentIndex(dlg.model_combo.findData("__file__"))
        dlg.model_file.setFilePath(str(Path(args.model).resolve()))
        dlg.file_loader.wait(120000)
        QCoreApplication.processEvents()
    dlg.device_combo.setCurrentIndex(dlg.device_combo.findData("cpu"))
    dlg.raster_check.setChecked(False)
    dlg.refresh()
    dlg.fit_button.click()  # the picture shows what Check fit says of this imagery
    dlg.fit_check.wait(300000)
    QCoreApplication.processEvents()
    print(f"check fit: {dlg.fit_label.text()}")
    dlg.resize(640, dlg.sizeHint().height())
    dlg.show()
    QCoreApplication.processEvents()
    size = save_png(dlg.grab().toImage(), out_dir / "plugin_dialog.png")
    print(f"wrote {out_dir / 'plugin_dialog.png'} ({size / 1024:.0f} KiB)")

    if not dlg.run_button.isEnabled():
        print(f"Error: the dialog refuses to run: {dlg.error_label.text()}", file=sys.stderr)
        return 1
    params = dlg.parameters()
    t0 = time.monotonic()
    task = plugin.start(params, dlg.current_model_info())
    dlg.hide()
    while task not in plugin.finished_tasks:
        QCoreApplication.processEvents()
        time.sleep(0.05)
    if not (task.result and task.result.ok):
        detail = task.result.details() if task.result else str(task.error)
        print("Error: the run failed: " + " | ".join(captured) + "\n" + detail, file=sys.stderr)
        return 1
    print(f"run finished in {time.monotonic() - t0:.1f} s: {captured[-1] if captured else ''}")
    group = project.layerTreeRoot().findGroup(params.run_name)
    road_layers = [n.layer() for n in group.findLayers()]
    scheme = plugin._scheme(task)  # noqa: SLF001 - the colours the layers were styled with
    legend = [
        (
            f"{c.name} road ({c.width_m:g} m wide)",
            c.rgb,
            c.line_width_mm * 96 / 25.4,
        )
        for c in (scheme.classes if scheme else ())
    ]
    summary = captured[-1].split(" · saved in ")[0] if captured else ""
    model_name = Path(args.model).name if args.model else "the embedded default model"
    source = (
        f"roadseg synth --seed {args.seed} --style {args.style}"
        if not args.raster
        else layer.name()
    )
    caption = [summary, f"Imagery: {source} · model: {model_name} · Map roads, real engine"]
    img = render_map([*road_layers, layer], layer.extent(), (760, 760), caption, legend)
    size = save_png(img, out_dir / "plugin_result.png")
    print(f"wrote {out_dir / 'plugin_result.png'} ({size / 1024:.0f} KiB)")
    roads = Path(args.roads) if args.roads else raster_path.parent / "roads.gpkg"
    if roads.exists():
        size = adapt_dialog_picture(plugin, layer, roads, out_dir / "plugin_adapt.png")
        print(f"wrote {out_dir / 'plugin_adapt.png'} ({size / 1024:.0f} KiB)")
    else:
        print(f"no road layer at {roads}: the Adapt dialog picture is not rendered")
    info = {"model": args.model or "default", "raster": str(raster_path), "summary": summary}
    (work / "pictures.json").write_text(json.dumps(info, indent=2))
    plugin.unload()
    project.removeAllMapLayers()
    del dlg, layer, road_layers
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
