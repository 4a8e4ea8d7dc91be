"""The plugin: toolbar button and menu, runs, messages, Processing provider."""

from __future__ import annotations

import datetime as _dt
import shutil
import tempfile
from pathlib import Path
from typing import Any

from qgis.core import QgsApplication
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from .core import outputs
from .core.adapt import AdaptParameters, adapt_argv
from .core.adapted import AdaptedModel
from .core.commands import display, predict_argv
from .core.engine import engine_env
from .core.errors import PluginError
from .core.estimate import learned_rate, measured_throughput
from .core.i18n import tr
from .core.params import RunParameters, run_folder_name
from .core.protocol import unsure_note
from .core.styling import ClassScheme, scheme_from_info
from .gui import messages, prefs
from .gui.adapt_task import AdaptTask
from .gui.layers import CENTERLINES, add_result_layers, summary_text
from .gui.rasters import unusable_rasters, usable_rasters
from .gui.render import RenderJob
from .gui.task import PredictTask

PLUGIN_DIR = Path(__file__).resolve().parent
ICON = PLUGIN_DIR / "icons" / "roadseg.svg"


def menu_name() -> str:
    """The plugin's menu under Plugins."""
    return tr("&roadseg")


class RoadsegPlugin:
    """Entry point object created by :func:`classFactory`.

    Attributes:
        actions: ``{"map_roads", "adapt", "retrain", "settings"}`` → QAction once ``initGui`` ran.
        tasks: Tasks started in this session (kept alive until they finish).
        finished_tasks: Tasks whose end the plugin has handled.
        last_task: The last task started (tests, scripting).
        added: What the last successful run added.

    """

    def __init__(self, iface: Any) -> None:
        self.iface = iface
        self.actions: dict[str, QAction] = {}
        self.provider = None
        self.tasks: list[PredictTask | AdaptTask] = []
        self.finished_tasks: list[PredictTask | AdaptTask] = []
        self.last_task: PredictTask | AdaptTask | None = None
        self.added = None
        self.dialog = None
        self._menu = menu_name()

    # -- QGIS plugin API ----------------------------------------------------------------
    def initGui(self) -> None:  # noqa: N802 - QGIS API
        """Create the toolbar button, the menu entries and the Processing provider."""
        icon = QIcon(str(ICON))
        main = self.iface.mainWindow()
        act = QAction(icon, tr("Map roads"), main)
        act.setObjectName("roadsegMapRoads")
        act.setToolTip(tr("Map roads: find roads in a raster layer with the roadseg engine"))
        act.triggered.connect(self.run)
        self.iface.addToolBarIcon(act)
        self.iface.addPluginToMenu(self._menu, act)
        self.actions["map_roads"] = act
        for key, name, text, tip, slot in (
            (
                "adapt",
                "roadsegAdaptModel",
                tr("Adapt model…"),
                tr("Adapt model: fine-tune a road model to your imagery from roads you have"),
                self.adapt,
            ),
            (
                "retrain",
                "roadsegRetrain",
                tr("Retrain from corrections…"),
                tr("Retrain from corrections: the edited centrelines of a Map roads run"),
                self.retrain,
            ),
        ):
            a = QAction(icon, text, main)
            a.setObjectName(name)
            a.setToolTip(tip)
            a.triggered.connect(slot)
            if key == "adapt":
                self.iface.addToolBarIcon(a)
            self.iface.addPluginToMenu(self._menu, a)
            self.actions[key] = a
        sett = QAction(QgsApplication.getThemeIcon("/mActionOptions.svg"), tr("Settings…"), main)
        sett.setObjectName("roadsegSettings")
        sett.setToolTip(tr("The roadseg engine (Test engine, Install engine), size limit, results"))
        sett.triggered.connect(self.open_settings)
        self.iface.addPluginToMenu(self._menu, sett)
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
        for key in ("map_roads", "adapt"):
            act = self.actions.get(key)
            if act is not None:
                self.iface.removeToolBarIcon(act)
        for a in self.actions.values():
            self.iface.removePluginMenu(self._menu, a)
            a.deleteLater()
        self.actions.clear()
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None

    # -- messages -----------------------------------------------------------------------
    def notify(
        self,
        message: str,
        level: str = "info",
        details: str = "",
        actions: tuple[messages.Action, ...] = (),
    ) -> Any:
        """Push a message (with buttons when given) and log it."""
        return messages.push(self.iface.messageBar(), message, level, details, actions)

    def show_error(self, exc: PluginError) -> None:
        """Show a plugin error in the message bar (details in the log panel)."""
        actions: tuple[messages.Action, ...] = ()
        if exc.level == "critical":
            actions = ((tr("Settings…"), self.open_settings),)
        self.notify(exc.message, exc.level, exc.details, actions)

    # -- actions ------------------------------------------------------------------------
    def open_settings(self) -> None:
        """Open the settings dialog."""
        from .gui.settings import SettingsDialog

        SettingsDialog(self.iface.mainWindow()).exec()

    def create_dialog(self, fetch_models: bool = True) -> Any:
        """Build the Map roads dialog, or explain why it cannot open (None)."""
        from .gui.dialog import MapRoadsDialog

        if not usable_rasters(rendered=True):
            if unusable_rasters(rendered=True):
                text = tr(
                    "The project's rasters are roadseg class rasters or layers roadseg cannot "
                    "read: add imagery from a file (Layer ▸ Add Layer ▸ Add Raster Layer) or an "
                    "XYZ, WMS or WMTS layer, and press Map roads again."
                )
            else:
                text = tr(
                    "There is no raster layer in the project: add imagery (Layer ▸ Add Layer ▸ "
                    "Add Raster Layer) and press Map roads again."
                )
            self.notify(text, "warning")
            return None
        try:
            prefs.current_engine()
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
        if dlg.exec() and dlg.params is not None:
            self.start(dlg.params, dlg.current_model_info(), dlg.render_job)
        elif dlg.wants_adapt:  # Check fit rated the imagery poor and the user chose to adapt
            self.dialog = None
            raster = dlg.raster_combo.currentLayer()
            if raster is not None:
                self.iface.setActiveLayer(raster)  # Adapt model offers the active imagery first
            self.adapt(start_model=dlg.model_argument() or "default")
        self.dialog = None

    def start(
        self,
        params: RunParameters,
        model_info: dict[str, Any] | None = None,
        render: RenderJob | None = None,
    ) -> PredictTask | None:
        """Start a background run; None (with a message) when it cannot start.

        ``render`` (a web or virtual layer) is written first, in the task, and removed after.
        """
        try:
            engine = prefs.current_engine()
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            paths = outputs.plan_run(
                params.output_dir, run_folder_name(params.raster_name, params.model_label, stamp)
            )
        except PluginError as exc:
            self.show_error(exc)
            return None
        extent_file = None
        if params.aoi_geojson:
            extent_file = paths.area_file
            extent_file.write_text(params.aoi_geojson, encoding="utf-8")
        argv = predict_argv(
            engine.argv,
            params,
            str(paths.staged_raster),
            str(paths.staged_vectors) if params.outputs.vectors else None,
            str(extent_file) if extent_file else None,
        )
        messages.log(tr("Running: {command}").format(command=display(argv)))
        task = PredictTask(
            params, argv, engine_env(), paths, self._finished, engine.argv, model_info, render
        )
        self.tasks.append(task)
        self.last_task = task
        QgsApplication.taskManager().addTask(task)
        return task

    # -- results ------------------------------------------------------------------------
    # -- adapt / retrain ----------------------------------------------------------------
    def _last_centrelines(self) -> Any:
        """The centreline layer of the last Map roads run, if it is still in the project."""
        from qgis.core import QgsProject

        for layer in reversed(getattr(self.added, "layers", None) or []):
            try:
                source = layer.source()
            except RuntimeError:  # deleted since
                continue
            if source.endswith(f"layername={CENTERLINES}") and QgsProject.instance().mapLayer(
                layer.id()
            ):
                return layer
        return None

    def create_adapt_dialog(self, retrain: bool = False, start_model: str = "default") -> Any:
        """Build the Adapt model (or Retrain from corrections) dialog; None with a message.

        ``start_model`` is the model offered to start from (Retrain: the last run's).
        """
        from .gui.adapt_dialog import AdaptDialog

        if not usable_rasters(rendered=True):
            self.notify(
                tr(
                    "Adapting needs imagery: add a raster file (Layer ▸ Add Layer ▸ Add Raster "
                    "Layer) or an XYZ, WMS or WMTS layer, together with a layer of roads, then "
                    "try again."
                ),
                "warning",
            )
            return None
        try:
            prefs.current_engine()
        except PluginError as exc:
            self.show_error(exc)
            return None
        start = start_model
        labels = None
        if retrain:
            labels = self._last_centrelines()
            start = prefs.remembered_model()
        return AdaptDialog(
            self.iface, self.iface.mainWindow(), retrain=retrain, labels=labels, start_model=start
        )

    def adapt(self, retrain: bool = False, start_model: str = "default") -> None:
        """Toolbar/menu action: open the Adapt dialog, start the run when accepted."""
        dlg = self.create_adapt_dialog(retrain=bool(retrain), start_model=start_model)
        if dlg is None:
            return
        self.dialog = dlg
        if dlg.exec():
            work = Path(tempfile.mkdtemp(prefix="roadseg-adapt-"))
            try:
                params = dlg.parameters(work)
            except PluginError as exc:
                shutil.rmtree(work, ignore_errors=True)
                self.show_error(exc)
            else:
                self.start_adapt(params, work, dlg.render_job)
        self.dialog = None

    def retrain(self) -> None:
        """Menu action: Retrain from corrections."""
        self.adapt(retrain=True)

    def start_adapt(
        self, params: AdaptParameters, work_dir: Path, render: RenderJob | None = None
    ) -> AdaptTask | None:
        """Start ``roadseg adapt`` in the background; None (with a message) if it cannot start.

        ``render`` (a web or virtual layer) is written first, in the task, and removed after.
        """
        try:
            engine = prefs.current_engine()
        except PluginError as exc:
            shutil.rmtree(work_dir, ignore_errors=True)
            self.show_error(exc)
            return None
        argv = adapt_argv(engine.argv, params)
        messages.log(tr("Running: {command}").format(command=display(argv)))
        task = AdaptTask(params, argv, engine_env(), work_dir, self._adapt_finished, render)
        self.tasks.append(task)
        self.last_task = task
        QgsApplication.taskManager().addTask(task)
        return task

    def _adapt_finished(self, task: AdaptTask) -> None:
        if task in self.tasks:
            self.tasks.remove(task)
        self.finished_tasks.append(task)
        p = task.params
        if task.cancelled:
            self.notify(tr("Adapting was cancelled; no model was written."), "info")
            return
        if task.error is not None:
            self.show_error(task.error)
            return
        res, outcome = task.result, task.outcome
        if res is None or not res.ok or outcome is None:
            message = res.message() if res else tr("The run did not start.")
            self.notify(message, "critical", res.details() if res else "")
            return
        text = outcome.message(p.name, p.model_label)
        if not outcome.adapted:
            Path(p.out_path).unlink(missing_ok=True)  # a copy of the starting model
            self.notify(text, "warning")
            return
        prefs.add_adapted_model(
            AdaptedModel(
                name=p.name,
                path=outcome.model_path or p.out_path,
                parent=p.model,
                raster=p.raster_name,
                before=outcome.before,
                after=outcome.after,
                created=_dt.datetime.now().isoformat(timespec="seconds"),
                mode=p.mode,
            )
        )
        prefs.set_dialog_values({"model": outcome.model_path or p.out_path})
        self.notify(text, "success", actions=((tr("Map roads"), self.run),))

    def _finished(self, task: PredictTask) -> None:
        if task in self.tasks:
            self.tasks.remove(task)
        self.finished_tasks.append(task)
        res = task.result
        if task.cancelled:
            self.notify(
                tr("The run was cancelled; nothing was added and no file was kept."), "info"
            )
            return
        if task.error is not None:
            self.show_error(task.error)
            return
        if res is None or not res.ok:
            message = res.message() if res else tr("The run did not start.")
            self.notify(message, "critical", res.details() if res else "")
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

    def _learn(self, task: PredictTask) -> None:
        """Remember the device the engine used and its speed (for the next estimates)."""
        result = (task.result.result if task.result else None) or {}
        p = task.params
        device = str(result.get("device") or "")
        if device:
            prefs.record_device(device, auto=p.device == "auto")
        metrics = result.get("metrics") if isinstance(result.get("metrics"), dict) else {}
        seconds = task.result.seconds if task.result else 0.0
        learned = learned_rate(result)  # pixels at the working resolution, as estimated
        if learned is not None:
            rate, mpx = learned
        else:
            rate, mpx = metrics.get("mp_per_s"), metrics.get("megapixels")
        if not isinstance(rate, int | float) and isinstance(mpx, int | float):
            rate = measured_throughput(float(mpx), seconds)
        family = device.split(":", 1)[0] or p.device
        if (
            isinstance(rate, int | float)
            and rate > 0
            and isinstance(mpx, int | float)
            and mpx >= 0.5
        ):
            prefs.set_throughput(family, float(rate))

    def _add_layers(self, task: PredictTask) -> None:
        p = task.params
        self._learn(task)
        added = add_result_layers(
            p.run_name,
            self._scheme(task),
            task.vectors,
            task.raster,
            polygons=p.outputs.polygons,
            centrelines=p.outputs.centrelines,
        )
        self.added = added
        saved = task.vectors or task.raster or task.paths.run_dir
        text = summary_text(
            added.km_by_class, p.area_km2, task.result.seconds if task.result else 0.0, str(saved)
        )
        if not added.layers:
            text += " · " + tr("no layer was added (nothing to show)")
        note = unsure_note((task.result.result if task.result else None) or {})
        folder = task.paths.run_dir
        actions: tuple[messages.Action, ...] = (
            (tr("Open folder"), lambda: messages.open_folder(folder)),
        )
        if note:
            text += " · " + note
            actions += ((tr("Adapt model…"), self.adapt),)
        self.notify(text, "warning" if note else "success", actions=actions)
