"""The "Map roads" dialog: widgets in, a :class:`RunParameters` out.

Every change re-checks the choices: the first problem shows in red above the
buttons and *Run* stays disabled until it is fixed. The choices are remembered
(QgsSettings) for the next run.
"""

from __future__ import annotations

import datetime as _dt
import html
import shutil
import tempfile
from pathlib import Path
from typing import Any

from qgis.core import QgsApplication, QgsProject, QgsVectorLayer
from qgis.PyQt.QtWidgets import (
    QFileDialog,
    QWidget,
)

from ..core.adapted import AdaptedModel
from ..core.commands import check_fit_argv
from ..core.engine import engine_env
from ..core.errors import EngineNotFoundError, InputError
from ..core.estimate import Estimate, estimate
from ..core.glossary import class_lines, describe
from ..core.i18n import tr
from ..core.outputs import check_output_dir, project_results_dir
from ..core.params import (
    AREA_MODES,
    POLYGON_MODES,
    Outputs,
    RunParameters,
    default_run_name,
    model_label,
    working_gsd_problem,
)
from ..core.protocol import fit_summary
from . import prefs
from .area import Area, area_to_map, central_square
from .dialog_form import MODEL_FILE, RED, ChoiceChecks, MapRoadsForm, model_file_problem
from .messages import open_url
from .model_info import FitCheck, ModelInfoLoader
from .rasters import default_raster, unusable_rasters, unusable_reason
from .render import RenderJob, layer_offer, needs_render, plan_render, web_area_problem
from .task import FitTask

#: Side of the square at the centre of the area a web or virtual layer is rendered over for
#: *Check fit* (8 windows of 256 m then cover it whole).
FIT_RENDER_M = 1000.0


def _red(text: str) -> str:
    return f"<span style='color:{RED}'>{html.escape(text)}</span>"


def _link(href: str, text: str) -> str:
    """Rich text of a link (the label's ``linkActivated`` gets ``href``)."""
    return f"<a href='{html.escape(href)}'>{html.escape(text)}</a>"


class MapRoadsDialog(ChoiceChecks, MapRoadsForm):
    """Choose raster, area, model, options and outputs; :meth:`parameters` builds the run.

    Args:
        iface: The QGIS interface (for the map canvas and the active layer).
        parent: Parent widget.
        fetch_models: Ask the engine for its models when the dialog opens.

    """

    def __init__(
        self, iface: Any, parent: QWidget | None = None, fetch_models: bool = True
    ) -> None:
        super().__init__(parent)
        self.iface = iface
        self.model_infos: dict[str, dict[str, Any]] = {}
        self.file_info: dict[str, Any] | None = None
        self.adapted = {m.path: m for m in prefs.adapted_models()}
        self.file_error = ""
        self.run_error = ""
        self.last_error = ""
        self.offer_text = ""
        self.params: RunParameters | None = None
        #: The rendering of a web or virtual layer that the run needs (set by parameters()).
        self.render_job: RenderJob | None = None
        self._pending_model = ""
        self._watched: QgsVectorLayer | None = None
        self.loader = ModelInfoLoader(self)
        self.loader.loaded.connect(self._models_loaded)
        self.file_loader = ModelInfoLoader(self)
        self.file_loader.loaded.connect(self._file_loaded)
        self.fit_check = FitCheck(self)
        self.fit_check.checked.connect(self._fit_checked)
        #: Folder of the polygons file a running fit check reads.
        self._fit_dir: str | None = None
        #: The last fit check's answer (the engine's JSON object; {} when none is shown).
        self.fit_answer: dict[str, Any] = {}
        #: The user chose *Adapt model…* after a poor check: the plugin opens Adapt model.
        self.wants_adapt = False
        #: A web or virtual layer's check: its rendering and the task running it.
        self.fit_render: RenderJob | None = None
        self._fit_task: FitTask | None = None
        #: The choices the shown (or running) check rates (None: no check shown).
        self._fit_key: tuple[Any, ...] | None = None
        self._set_defaults()
        self._connect()
        if fetch_models:
            self.fetch_models()
        self._apply_model_choice()

    def _connect(self) -> None:
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.helpRequested.connect(self.open_help)
        self.settings_button.clicked.connect(self.open_settings)
        self.area_combo.currentIndexChanged.connect(self._area_changed)
        self.model_combo.currentIndexChanged.connect(self._model_changed)
        self.model_file.fileChanged.connect(self._model_file_changed)
        self.remove_model_button.clicked.connect(self.remove_adapted_model)
        self.polygon_combo.layerChanged.connect(self._watch_polygons)
        self.fit_button.clicked.connect(self.check_fit)
        self.fit_label.linkActivated.connect(self._adapt_instead)
        for sig in (
            self.raster_combo.layerChanged,
            self.device_combo.currentIndexChanged,
            self.tile_spin.valueChanged,
            self.overlap_spin.valueChanged,
            self.batch_spin.valueChanged,
            self.working_gsd_spin.valueChanged,
            self.threshold_spin.valueChanged,
            self.polygons_check.toggled,
            self.centrelines_check.toggled,
            self.raster_check.toggled,
            self.output_widget.fileChanged,
        ):
            sig.connect(self.refresh)
        canvas = self.canvas
        if canvas is not None:
            canvas.extentsChanged.connect(self.refresh)
        self._watch_polygons()

    def _set_defaults(self) -> None:
        """Remembered choices, the best raster and the results folder."""
        self.raster_combo.setExceptedLayerList(unusable_rasters(rendered=True))
        active = self.iface.activeLayer() if self.iface is not None else None
        raster = default_raster(active, rendered=True)
        if raster is not None:
            self.raster_combo.setLayer(raster)
        area = str(prefs.dialog_value("area", "canvas"))
        self._select(self.area_combo, area if area in AREA_MODES else "canvas")
        poly = QgsProject.instance().mapLayer(str(prefs.dialog_value("polygon_layer", "")))
        if isinstance(poly, QgsVectorLayer):
            self.polygon_combo.setLayer(poly)
        remembered = str(prefs.dialog_value("model", "default"))
        # An embedded model other than the default is listed only once the engine answered.
        self._pending_model = "" if self._select(self.model_combo, remembered) else remembered
        self.model_file.setFilePath(str(prefs.dialog_value("model_file", "")))
        self._select(self.device_combo, str(prefs.dialog_value("device", "auto")))
        self.tile_spin.setValue(int(prefs.dialog_value("tile", 0)))
        self.overlap_spin.setValue(int(prefs.dialog_value("overlap", -1)))
        self.batch_spin.setValue(int(prefs.dialog_value("batch", 0)))
        self.working_gsd_spin.setValue(float(prefs.dialog_value("working_gsd", 0.0)))
        self.threshold_spin.setValue(float(prefs.dialog_value("road_threshold", 0.0)))
        self.polygons_check.setChecked(bool(prefs.dialog_value("polygons", True)))
        self.centrelines_check.setChecked(bool(prefs.dialog_value("centrelines", True)))
        self.raster_check.setChecked(bool(prefs.dialog_value("class_raster", False)))
        self.output_widget.setFilePath(self.default_output_dir())
        self.polygon_combo.setEnabled(area in POLYGON_MODES)

    @staticmethod
    def default_output_dir() -> str:
        """The saved project's results folder, else the folder chosen once ("" = ask)."""
        home = prefs.project_home()
        folder = project_results_dir(home)
        return str(folder) if folder else prefs.results_dir()

    # -- reactions ------------------------------------------------------------------
    def _watch_polygons(self, *_args: object) -> None:
        """Follow the polygon layer's selection (the area changes with it)."""
        if self._watched is not None:
            try:
                self._watched.selectionChanged.disconnect(self.refresh)
            except (TypeError, RuntimeError):
                pass
        layer = self.polygon_combo.currentLayer()
        self._watched = layer if isinstance(layer, QgsVectorLayer) else None
        if self._watched is not None:
            self._watched.selectionChanged.connect(self.refresh)
        self.refresh()

    def _model_changed(self) -> None:
        self._pending_model = ""  # the user chose: never switch back to the remembered model
        self._apply_model_choice()

    def _apply_model_choice(self) -> None:
        self.model_file.setEnabled(self.model_combo.currentData() == MODEL_FILE)
        self.remove_model_button.setEnabled(self.adapted_choice() is not None)
        if self.selected_file():
            self._model_file_changed()
            return
        self._show_model_info()
        self.refresh()

    def adapted_choice(self) -> AdaptedModel | None:
        """The adapted model chosen in the model list, if one is."""
        return self.adapted.get(str(self.model_combo.currentData()))

    def selected_file(self) -> str | None:
        """The model file chosen (a file or an adapted model); None for embedded models."""
        data = str(self.model_combo.currentData())
        return self.model_choice() if data == MODEL_FILE or data in self.adapted else None

    def _model_file_changed(self, *_args: object) -> None:
        self.file_info, self.file_error = None, ""
        self.file_loader.stop()
        path = self.selected_file()
        if path and Path(path).is_file():
            try:
                self.file_loader.start(prefs.current_engine(), path)
            except EngineNotFoundError as exc:
                self.file_error = exc.message
        self._show_model_info()
        self.refresh()

    def remove_adapted_model(self) -> None:
        """Take the chosen adapted model off the list (and its file out of the profile)."""
        entry = self.adapted_choice()
        if entry is None:
            return
        prefs.remove_adapted_model(entry.path)
        del self.adapted[entry.path]
        self.model_combo.removeItem(self.model_combo.findData(entry.path))
        self._select(self.model_combo, "default")
        self._apply_model_choice()

    def fetch_models(self) -> None:
        """Ask the engine for its embedded models (asynchronously)."""
        try:
            self.loader.start(prefs.current_engine())
        except EngineNotFoundError as exc:
            self.loader.error, self.loader.done = exc.message, True
        self._show_model_info()

    def _models_loaded(self, models: list, error: str) -> None:
        for m in models:
            self.model_infos[str(m.get("name", "default"))] = m
        for name in self.model_infos:
            if self.model_combo.findData(name) < 0:
                self.model_combo.insertItem(
                    self.model_combo.count() - 1,
                    tr("Embedded model: {name}").format(name=name),
                    name,
                )
        if self._pending_model and self._select(self.model_combo, self._pending_model):
            self._pending_model = ""
        self._show_model_info()
        self.refresh()

    def _file_loaded(self, models: list, error: str) -> None:
        self.file_info = models[0] if models and not error else None
        self.file_error = error
        self._show_model_info()
        self.refresh()

    def _show_model_info(self) -> None:
        self.model_label.setText(self.model_description())

    def model_description(self) -> str:
        """Rich text about the chosen model: classes explained, resolution, or what is missing."""
        path = self.selected_file()
        if path is not None:
            if not path:
                return html.escape(tr("Choose a model file written by `roadseg train`."))
            if not Path(path).is_file():
                return _red(tr("No file at {path}.").format(path=path))
            if self.file_error:
                return _red(
                    tr("This model file cannot be used: {error}").format(error=self.file_error)
                )
            if self.file_info is None:
                return html.escape(tr("Reading the model file…"))
        info = self.current_model_info()
        if info is None:
            if not self.loader.done:
                return html.escape(tr("Asking the engine for its models…"))
            return _red(
                tr("Model information unavailable: {error}").format(
                    error=self.loader.error or tr("the engine did not list this model")
                )
            )
        lines = [html.escape(describe(info))]
        entry = self.adapted_choice()
        if entry is not None:
            lines.insert(0, html.escape(entry.describe()))
        lines += [html.escape(line) for line in class_lines(info)]
        return "<br>".join(lines)

    def current_model_info(self) -> dict[str, Any] | None:
        """Return the selected model's description (None until the engine answered)."""
        if self.selected_file() is not None:
            return self.file_info
        return self.model_infos.get(str(self.model_combo.currentData()))

    def open_settings(self) -> None:
        """Open the settings dialog, then re-read the models and re-check."""
        from .settings import SettingsDialog

        dlg = SettingsDialog(self)
        if dlg.exec():
            self._refresh_devices()
            self.fetch_models()
            self.output_widget.setFilePath(
                self.output_widget.filePath() or self.default_output_dir()
            )
            self.refresh()

    def _refresh_devices(self) -> None:
        current = self.device_combo.currentData()
        for device in prefs.devices_found():
            if self.device_combo.findData(device) < 0:
                self.device_combo.addItem(device, device)
        self._select(self.device_combo, str(current))

    def open_help(self) -> None:
        """Open the plugin's help page."""
        open_url(prefs.help_url())

    # -- Check fit -----------------------------------------------------------------------
    def fit_parameters(self) -> RunParameters:
        """The run's raster, area, model and network options, for *Check fit* (no outputs).

        A web or virtual layer is checked on the centre of the area, rendered first
        (:attr:`fit_render`).

        Raises:
            InputError: with the message the dialog shows.

        """
        raster, area = self._raster_and_area()
        self._raise_choice_problem(outputs=False)
        self.fit_render = None
        if needs_render(raster):  # the centre of the area, rendered at the model's resolution
            area = central_square(area, FIT_RENDER_M)
            job = plan_render(raster, area, self.working_gsd(), self.transform_context())
            self.fit_render = job
            return self._run_parameters(
                raster,
                area,
                raster_path=str(job.path),
                bbox=job.bbox,
                bbox_crs=job.crs_argument,
                area_mode="canvas",
                aoi_geojson=None,
            )
        return self._run_parameters(raster, area)

    def check_fit(self) -> None:
        """Start ``roadseg check-fit`` on the chosen imagery and area (the answer is shown)."""
        self._fit_stale()
        try:
            params = self.fit_parameters()
            engine = prefs.current_engine()
        except (InputError, EngineNotFoundError) as exc:
            self.fit_label.setText(_red(tr("Cannot check: {why}").format(why=exc.message)))
            return
        self.fit_button.setEnabled(False)
        self._fit_key = self._choice_key()
        if self.fit_render is not None:
            self.fit_label.setText(
                html.escape(tr("Rendering the centre of the area and checking the fit…"))
            )
            self._fit_task = FitTask(
                check_fit_argv(engine.argv, params),
                engine_env(),
                self._fit_task_done,
                self.fit_render,
            )
            QgsApplication.taskManager().addTask(self._fit_task)
            return
        extent = None
        if params.aoi_geojson:
            self._fit_dir = tempfile.mkdtemp(prefix="roadseg-fit-")
            extent = str(Path(self._fit_dir) / "area.geojson")
            Path(extent).write_text(params.aoi_geojson, encoding="utf-8")
        self.fit_label.setText(html.escape(tr("Checking the fit on a few windows of the area…")))
        self.fit_check.run(check_fit_argv(engine.argv, params, extent))

    def _fit_task_done(self, task: FitTask) -> None:
        if task is not self._fit_task:  # abandoned: other choices since
            return
        self._fit_task = None
        res = task.result
        if task.error is not None:
            error = task.error.message
        elif task.cancelled or res is None:
            error = tr("cancelled")
        else:
            error = "" if res.ok else res.message()
        answer = res.result if res is not None and res.ok and isinstance(res.result, dict) else {}
        self._fit_checked(answer, error)

    def _fit_checked(self, answer: dict, error: str) -> None:
        self._drop_fit_dir()
        self.fit_button.setEnabled(True)
        if error:
            self.fit_label.setText(_red(tr("Cannot check: {why}").format(why=error)))
            return
        self.fit_answer = answer
        rating, line = fit_summary(answer)
        job = self.fit_render
        if job is not None and line:
            km2 = job.width * job.height * job.gsd_m**2 / 1e6
            line += " " + tr("(Rendered: {km} km² at the centre of the area.)").format(
                km=f"{km2:.2f}"
            )
        if rating == "poor":
            self.fit_label.setText(_red(line) + " " + _link("adapt", tr("Adapt model…")))
        else:
            self.fit_label.setText(html.escape(line))

    def _adapt_instead(self, _href: str) -> None:
        """Close (remembering the choices) so that the plugin opens Adapt model for this raster."""
        self.wants_adapt = True
        self.remember()
        self.reject()

    def _fit_stale(self, *_args: object) -> None:
        """Abandon a running check and clear a rating of other choices."""
        if self.fit_check.running:
            self.fit_check.stop()
        if self._fit_task is not None:
            task, self._fit_task = self._fit_task, None
            task.cancel()
        self._drop_fit_dir()
        self.fit_button.setEnabled(True)
        self.fit_label.setText("")
        self.fit_answer = {}
        self._fit_key = None

    def _choice_key(self) -> tuple[Any, ...]:
        """What a check's rating depends on: the raster, the area, the model and its options."""
        try:
            area: Area | None = self.current_area()
        except InputError:
            area = None
        raster = self.raster_combo.currentLayer()
        return (
            raster.id() if raster is not None else None,
            area,
            self.model_argument(),
            self.device(),
            self.tile_spin.value(),
            self.overlap_spin.value(),
            self.batch_spin.value(),
            self.working_gsd_spin.value(),
            self.threshold_spin.value(),
        )

    def _drop_fit_dir(self) -> None:
        if self._fit_dir is not None:
            shutil.rmtree(self._fit_dir, ignore_errors=True)
            self._fit_dir = None

    def model_argument(self) -> str | None:
        """The engine's ``--model``: a file, an embedded name; None for the default model."""
        model: str | None = self.selected_file()
        if model is None and self.model_combo.currentData() not in (None, "default"):
            model = str(self.model_combo.currentData())
        return model

    # -- checks, estimate and parameters ------------------------------------------------
    def current_area(self) -> Area:
        """Return the area to map in the raster CRS (raises InputError)."""
        return area_to_map(
            str(self.area_combo.currentData()),
            self.raster_combo.currentLayer(),
            self.canvas,
            self.polygon_combo.currentLayer(),
            transform_context=self.transform_context(),
        )

    def device(self) -> str:
        """The chosen device (``auto``, ``cpu``, ``cuda``, ``mps``)."""
        return str(self.device_combo.currentData() or "auto")

    def working_gsd(self) -> float:
        """The resolution the network will run at (m/px): the field's, else the model's.

        0 while neither is known.
        """
        chosen = self.working_gsd_spin.value()
        if chosen > 0:
            return float(chosen)
        return float((self.current_model_info() or {}).get("gsd_m") or 0.0)

    def current_estimate(self, area: Area) -> Estimate:
        """Pixels and time for ``area`` with the selected model, resolution and device."""
        gsd = self.working_gsd()
        device = self.device()
        if device == "auto":
            device = prefs.auto_device() or "cpu"
        return estimate(area.area_m2, gsd, device, prefs.throughput(device), prefs.limit_km2())

    def _model_problem(self) -> str:
        path = self.selected_file()
        if path is not None:
            missing = model_file_problem(path)
            if missing:
                return missing
            if self.file_error:
                return tr("This model file cannot be used: {error}").format(error=self.file_error)
        elif (
            self.loader.done
            and self.loader.error
            and str(self.model_combo.currentData()) not in self.model_infos
        ):
            return tr("The embedded model cannot be used ({error}): choose a model file.").format(
                error=self.loader.error
            )
        return ""

    def render_offer(self, area: Area) -> str:
        """For a web or virtual layer: what it offers over ``area`` and what it is rendered at."""
        raster = self.raster_combo.currentLayer()
        if not needs_render(raster):
            return ""
        return layer_offer(raster, area, self.working_gsd(), self.transform_context()).text()

    def problem(self) -> tuple[str, Estimate | None]:
        """The first thing that stops a run ("" when none), and the estimate when known."""
        raster = self.raster_combo.currentLayer()
        reason = unusable_reason(raster, rendered=True) or web_area_problem(
            raster, str(self.area_combo.currentData())
        )
        if reason:
            self.offer_text = ""
            return reason, None
        try:
            area = self.current_area()
            est = self.current_estimate(area)
            self.offer_text = self.render_offer(area)
        except InputError as exc:
            self.offer_text = ""
            return exc.message, None
        working = working_gsd_problem(
            self.working_gsd_spin.value(), (self.current_model_info() or {}).get("gsd_m")
        )
        for message in (self._model_problem(), working, self._outputs_problem()):
            if message:
                return message, est
        if est.over_limit:
            return est.limit_message(), est
        return self.run_error, est

    def _outputs_problem(self) -> str:
        if not (
            self.polygons_check.isChecked()
            or self.centrelines_check.isChecked()
            or self.raster_check.isChecked()
        ):
            return tr("Choose at least one output: road polygons, centrelines or class raster.")
        return ""

    def refresh(self, *_args: object) -> None:
        """Re-check the choices: estimate, the first problem in red, Run enabled only without one.

        A fit check's rating of other choices (raster, area — the map extent too —, model,
        options) is cleared: shown beside them it would mislead.
        """
        if _args or self.sender() is not None:  # a choice changed: the last Run's error is stale
            self.run_error = ""
        if self._fit_key is not None and self._choice_key() != self._fit_key:
            self._fit_stale()
        message, est = self.problem()
        lines = [est.text()] if est is not None else []
        self.estimate_label.setText(
            "\n".join(lines + [self.offer_text] if self.offer_text else lines)
        )
        self.show_error(message)

    def ask_results_dir(self) -> str:
        """Ask once for a results folder (unsaved projects); "" when the user cancels."""
        return QFileDialog.getExistingDirectory(
            self, tr("Choose a folder for roadseg results (asked once, remembered)")
        )

    def output_dir(self) -> str:
        """The results folder, asking for one when there is none yet."""
        folder = self.output_widget.filePath().strip()
        if not folder:
            folder = self.ask_results_dir().strip()
            if folder:
                self.output_widget.setFilePath(folder)
        return folder

    def parameters(self) -> RunParameters:
        """Build the run's parameters from the widgets.

        Raises:
            InputError: with the message the dialog shows.

        """
        raster, area = self._raster_and_area()
        self._raise_choice_problem(outputs=True)
        est = self.current_estimate(area)
        if est.over_limit:
            raise InputError(est.limit_message())
        out_dir = self.output_dir()
        if not out_dir:
            raise InputError(tr("Choose a folder for the results."))
        check_output_dir(out_dir)
        stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        run: dict[str, Any] = {
            "output_dir": out_dir,
            "outputs": Outputs(
                self.polygons_check.isChecked(),
                self.centrelines_check.isChecked(),
                self.raster_check.isChecked(),
            ),
            "run_name": default_run_name(raster.name(), model_label(self.model_argument()), stamp),
        }
        self.render_job = None
        if needs_render(raster):
            self.render_job = plan_render(raster, area, est.gsd_m, self.transform_context())
            run["raster_path"] = str(self.render_job.path)
            run["bbox"], run["bbox_crs"] = self.render_job.bbox, self.render_job.crs_argument
        return self._run_parameters(raster, area, **run)

    def _raster_and_area(self) -> tuple[Any, Area]:
        """The chosen raster layer and area, or InputError saying why they cannot be used."""
        raster = self.raster_combo.currentLayer()
        reason = unusable_reason(raster, rendered=True) or web_area_problem(
            raster, str(self.area_combo.currentData())
        )
        if reason:
            raise InputError(reason)
        return raster, self.current_area()

    def _raise_choice_problem(self, outputs: bool) -> None:
        """Raise the first problem of the model, working resolution (and outputs) as InputError."""
        working = working_gsd_problem(
            self.working_gsd_spin.value(), (self.current_model_info() or {}).get("gsd_m")
        )
        found = (self._model_problem(), working, self._outputs_problem() if outputs else "")
        for message in found:
            if message:
                raise InputError(message)

    def _run_parameters(self, raster: Any, area: Area, **run: Any) -> RunParameters:
        """The dialog's model and options for ``raster`` over ``area``; ``run`` sets the rest.

        ``run`` gives a run's folder, outputs and name, or a rendered layer's file and box;
        without a folder (a check) the temporary folder stands in: a check writes nothing.
        """
        model = self.model_argument()
        fields: dict[str, Any] = {
            "raster_path": raster.source().split("|", 1)[0],
            "raster_name": raster.name(),
            "bbox": area.bbox,
            "bbox_crs": area.crs,
            "output_dir": tempfile.gettempdir(),
            "model": model,
            "model_label": model_label(model),
            "device": self.device(),
            "tile": self.tile_spin.value() or None,
            "overlap": None if self.overlap_spin.value() < 0 else self.overlap_spin.value(),
            "batch_size": self.batch_spin.value() or None,
            "working_gsd": self.working_gsd_spin.value() or None,
            "road_threshold": self.threshold_spin.value() or None,
            "area_mode": str(self.area_combo.currentData()),
            "area_km2": area.area_m2 / 1e6,
            "aoi_geojson": area.geojson,
        }
        return RunParameters(**{**fields, **run})

    def remember(self) -> None:
        """Save the choices for the next time the dialog opens."""
        poly = self.polygon_combo.currentLayer()
        prefs.set_dialog_values(
            {
                "area": str(self.area_combo.currentData()),
                "polygon_layer": poly.id() if poly is not None else "",
                "model": str(self.model_combo.currentData()),
                "model_file": self.model_file.filePath().strip(),
                "device": self.device(),
                "tile": self.tile_spin.value(),
                "overlap": self.overlap_spin.value(),
                "batch": self.batch_spin.value(),
                "working_gsd": self.working_gsd_spin.value(),
                "road_threshold": self.threshold_spin.value(),
                "polygons": self.polygons_check.isChecked(),
                "centrelines": self.centrelines_check.isChecked(),
                "class_raster": self.raster_check.isChecked(),
            }
        )
        if not prefs.project_home() and self.params is not None:
            prefs.set_results_dir(self.params.output_dir)

    def accept(self) -> None:
        """Validate; stay open with the problem shown (and Run disabled) when something is wrong."""
        try:
            self.params = self.parameters()
        except InputError as exc:
            self.run_error = exc.message
            self.show_error(exc.message)
            return
        self.remember()
        super().accept()

    def done(self, result: int) -> None:
        """Stop pending model queries and a running fit check when the dialog closes."""
        self.loader.stop()
        self.file_loader.stop()
        self._fit_stale()
        if self._watched is not None:
            try:
                self._watched.selectionChanged.disconnect(self.refresh)
            except (TypeError, RuntimeError):
                pass
            self._watched = None
        super().done(result)
