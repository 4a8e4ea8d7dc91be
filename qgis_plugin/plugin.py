"""The plugin: toolbar button and menu, runs, messages, Processing provider."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsMapLayerType,
    QgsMessageLog,
    QgsProject,
)
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from .core import outputs
from .core.commands import display, predict_argv
from .core.engine import engine_env
from .core.errors import PluginError
from .core.estimate import measured_throughput
from .core.params import RunParameters, safe_name
from .core.styling import ClassScheme, scheme_from_info
from .gui import settings
from .gui.layers import add_result_layers, summary_text
from .gui.task import LOG_TAG, PredictTask

PLUGIN_DIR = Path(__file__).resolve().parent
ICON = PLUGIN_DIR / "icons" / "roadseg.svg"
MENU = "&roadseg"
LEVELS = {
    "info": Qgis.Info,
    "warning": Qgis.Warning,
    "critical": Qgis.Critical,
    "success": Qgis.Success,
}


class RoadsegPlugin:
    """Entry point object created by :func:`classFactory`.

    Attributes:
        actions: ``{"map_roads": QAction, "settings": QAction}`` once ``initGui`` ran.
        tasks: Tasks started in this session (kept alive until they finish).
        finished_tasks: Tasks whose end the plugin has handled.
        last_task: The last task started (tests, scripting).
        added: What the last successful run added.

    """

    def __init__(self, iface: Any) -> None:
        self.iface = iface
        self.actions: dict[str, QAction] = {}
        self.provider = None
        self.tasks: list[PredictTask] = []
        self.finished_tasks: list[PredictTask] = []
        self.last_task: PredictTask | None = None
        self.added = None
        self.dialog = None

    # -- QGIS plugin API ----------------------------------------------------------------
    def initGui(self) -> None:  # noqa: N802 - QGIS API
        """Create the toolbar button, the menu entries and the Processing provider."""
        icon = QIcon(str(ICON))
        main = self.iface.mainWindow()
        act = QAction(icon, "Map roads", main)
        act.setObjectName("roadsegMapRoads")
        act.setToolTip("Map roads: find roads in a raster layer with the roadseg engine")
        act.triggered.connect(self.run)
        self.iface.addToolBarIcon(act)
        self.iface.addPluginToMenu(MENU, act)
        self.actions["map_roads"] = act
        sett = QAction(QgsApplication.getThemeIcon("/mActionOptions.svg"), "Settings…", main)
        sett.setObjectName("roadsegSettings")
        sett.triggered.connect(self.open_settings)
        self.iface.addPluginToMenu(MENU, sett)
        self.actions["settings"] = sett
        self.initProcessing()

    def initProcessing(self) -> None:  # noqa: N802 - QGIS API (qgis_process calls it)
        """Register the Processing provider (once)."""
        from .processing_provider.provider import RoadsegProvider

        if self.provider is None:
            self.provider = RoadsegProvider(ICON)
            QgsApplication.processingRegistry().addProvider(self.provider)

    def unload(self) -> None:
        """Remove what ``initGui`` added; cancel runs still going (their files are dropped)."""
        for task in list(self.tasks):
            task.cancel()
        act = self.actions.get("map_roads")
        if act is not None:
            self.iface.removeToolBarIcon(act)
        for a in self.actions.values():
            self.iface.removePluginMenu(MENU, a)
            a.deleteLater()
        self.actions.clear()
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None

    # -- messages -----------------------------------------------------------------------
    def notify(self, message: str, level: str = "info", details: str = "") -> None:
        """Push a message (with a details button when there are details) and log it."""
        qlevel = LEVELS.get(level, Qgis.Info)
        bar = self.iface.messageBar()
        if details:
            bar.pushMessage("roadseg", message, details, qlevel, 0)
            QgsMessageLog.logMessage(f"{message}\n{details}", LOG_TAG, qlevel, False)
        else:
            bar.pushMessage("roadseg", message, qlevel, 0 if qlevel == Qgis.Critical else 10)
            QgsMessageLog.logMessage(message, LOG_TAG, qlevel, False)

    def show_error(self, exc: PluginError) -> None:
        """Show a plugin error in the message bar (details in the log panel)."""
        self.notify(exc.message, exc.level, exc.details)

    # -- actions ------------------------------------------------------------------------
    def open_settings(self) -> None:
        """Open the settings dialog."""
        settings.SettingsDialog(self.iface.mainWindow()).exec_()

    def has_raster(self) -> bool:
        """Whether the project has a raster layer."""
        return any(
            lyr.type() == QgsMapLayerType.RasterLayer
            for lyr in QgsProject.instance().mapLayers().values()
        )

    def create_dialog(self, fetch_models: bool = True) -> Any:
        """Build the Map roads dialog, or explain why it cannot open (None)."""
        from .gui.dialog import MapRoadsDialog

        if not self.has_raster():
            self.notify(
                "There is no raster layer in the project: add imagery (Layer ▸ Add Layer ▸ Add "
                "Raster Layer) and press Map roads again.",
                "warning",
            )
            return None
        try:
            settings.current_engine()
        except PluginError as exc:
            self.show_error(exc)
            return None
        return MapRoadsDialog(self.iface, self.iface.mainWindow(), fetch_models=fetch_models)

    def run(self) -> None:
        """Toolbar/menu action: open the dialog, start a run when accepted."""
        dlg = self.create_dialog()
        if dlg is None:
            return
        self.dialog = dlg
        if dlg.exec_():
            self.start(dlg.params, dlg.current_model_info())
        self.dialog = None

    def start(
        self, params: RunParameters, model_info: dict[str, Any] | None = None
    ) -> PredictTask | None:
        """Start a background run; None (with a message) when it cannot start."""
        try:
            engine = settings.current_engine()
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            paths = outputs.plan_run(
                params.output_dir, f"roads_{safe_name(params.raster_name)}_{stamp}"
            )
        except PluginError as exc:
            self.show_error(exc)
            return None
        extent_file = None
        if params.aoi_geojson:
            extent_file = paths.stage_dir / "area.geojson"
            extent_file.write_text(params.aoi_geojson, encoding="utf-8")
        argv = predict_argv(
            engine.argv,
            params,
            str(paths.staged_raster),
            str(paths.staged_vectors) if params.outputs.vectors else None,
            str(extent_file) if extent_file else None,
        )
        QgsMessageLog.logMessage(f"Running: {display(argv)}", LOG_TAG, Qgis.Info, False)
        task = PredictTask(
            params, argv, engine_env(), paths, self._finished, engine.argv, model_info
        )
        self.tasks.append(task)
        self.last_task = task
        QgsApplication.taskManager().addTask(task)
        return task

    # -- results ------------------------------------------------------------------------
    def _finished(self, task: PredictTask) -> None:
        if task in self.tasks:
            self.tasks.remove(task)
        self.finished_tasks.append(task)
        res = task.result
        if task.error is not None:
            self.show_error(task.error)
            return
        if res is None or task.isCanceled() or res.cancelled:
            self.notify("The run was cancelled; nothing was added and no file was kept.", "info")
            return
        if not res.ok:
            self.notify(res.message(), "critical", res.details())
            return
        try:
            self._add_layers(task)
        except PluginError as exc:
            self.show_error(exc)

    def _scheme(self, task: PredictTask) -> ClassScheme | None:
        res = task.result.result if task.result else None
        for candidate in (
            (res or {}).get("layers") if isinstance((res or {}).get("layers"), dict) else None,
            (res or {}).get("model") if isinstance((res or {}).get("model"), dict) else None,
            (res or {}).get("classes") and res,
            getattr(task, "model_info", None),
        ):
            scheme = scheme_from_info(candidate) if candidate else None
            if scheme is not None and scheme.classes:
                return scheme
        return None

    def _add_layers(self, task: PredictTask) -> None:
        p = task.params
        added = add_result_layers(
            p.run_name,
            self._scheme(task),
            task.vectors,
            task.raster,
            polygons=p.outputs.polygons,
            centrelines=p.outputs.centrelines,
        )
        self.added = added
        seconds = task.result.seconds if task.result else 0.0
        metrics = (task.result.result or {}).get("metrics", {}) if task.result else {}
        rate = metrics.get("mp_per_s") if isinstance(metrics, dict) else None
        mpx = metrics.get("megapixels") if isinstance(metrics, dict) else None
        if not isinstance(rate, int | float) and isinstance(mpx, int | float):
            rate = measured_throughput(float(mpx), seconds)
        if (
            isinstance(rate, int | float)
            and rate > 0
            and isinstance(mpx, int | float)
            and mpx >= 0.5
        ):
            settings.set_throughput(p.device, float(rate))
        self.notify(summary_text(added.km_by_class, p.area_km2, seconds), "success")
