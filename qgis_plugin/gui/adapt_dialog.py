"""The "Adapt model" and "Retrain from corrections" dialog: layers in, an adaptation out.

Adapt model: the imagery, the roads the user already has (OpenStreetMap ``highway``
lines, a municipal layer, roads they digitised) with their class field, where those
roads are complete, the starting model and the minutes to spend. Retrain from
corrections is the same dialog started from a Map roads result: the edited centreline
layer (class field ``class``) and the checked area, from the model that mapped them.
Every change re-checks the choices; the first problem shows in red and Run stays
disabled until it is fixed. A web (XYZ, WMS, WMTS) or virtual layer is rendered over the
area at the starting model's resolution, as Map roads does (``render``): the dialog asks
the engine for that resolution and says what the layer offers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import QgsMapLayerProxyModel, QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.gui import QgsFieldComboBox, QgsMapLayerComboBox
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ..core.adapt import ADAPT_AREA_MODES, DEFAULT_MINUTES, AdaptParameters, adapt_area_label
from ..core.adapted import unique_model_name
from ..core.errors import EngineNotFoundError, InputError
from ..core.estimate import estimate
from ..core.i18n import tr
from ..core.outputs import unique_name
from ..core.params import POLYGON_MODES, model_label, safe_name
from . import prefs
from .adapt_inputs import export_labels, labels_area, write_area
from .area import Area, area_to_map
from .dialog_form import (
    MODEL_FILE,
    ChoiceChecks,
    error_label,
    model_combo,
    model_file_problem,
    model_file_widget,
    run_buttons,
)
from .model_info import ModelInfoLoader, model_gsd
from .rasters import default_raster, unusable_rasters, unusable_reason
from .render import RenderJob, layer_offer, needs_render, plan_render, web_area_problem

#: Class fields the engine recognises without being told (OpenStreetMap first).
KNOWN_CLASS_FIELDS = ("highway", "class", "road_class", "road_type")


class AdaptDialog(ChoiceChecks, QDialog):
    """Choose imagery, roads, area, starting model and minutes; :meth:`parameters` builds the run.

    Args:
        iface: The QGIS interface (map canvas, active layer).
        parent: Parent widget.
        retrain: Retrain from corrections (edited centrelines, checked area).
        labels: The road layer to offer first (the last Map roads centrelines).
        start_model: The model to start from (``default``, an adapted model's or any file).

    """

    def __init__(
        self,
        iface: Any,
        parent: QWidget | None = None,
        retrain: bool = False,
        labels: QgsVectorLayer | None = None,
        start_model: str = "default",
    ) -> None:
        super().__init__(parent)
        self.iface = iface
        self.retrain = retrain
        self.setWindowTitle(tr("Retrain from corrections") if retrain else tr("Adapt model"))
        self.setMinimumWidth(560)
        self.last_error = ""
        self.offer_text = ""
        self._auto_name = ""
        #: The rendering of a web or virtual layer that the run needs (set by parameters()).
        self.render_job: RenderJob | None = None
        #: Starting model → its resolution (m/px), asked of the engine for web/virtual layers.
        self.model_gsd: dict[str, float] = {}
        self.gsd_error = ""
        self._asked = ""
        self.loader = ModelInfoLoader(self)
        self.loader.loaded.connect(self._gsd_loaded)
        self._build()
        self._set_defaults(labels, start_model)
        self._connect()
        self.refresh()

    # -- widgets ------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        intro = QLabel(self._intro())
        intro.setWordWrap(True)
        outer.addWidget(intro)
        form = QFormLayout()
        self.raster_combo = QgsMapLayerComboBox()
        self.raster_combo.setFilters(QgsMapLayerProxyModel.Filter.RasterLayer)
        self.raster_combo.setToolTip(
            tr(
                "The imagery: a raster file, or an XYZ, WMS, WMTS or virtual raster layer "
                "(rendered over the area at the starting model's resolution)."
            )
        )
        form.addRow(tr("Imagery"), self.raster_combo)
        self.labels_combo = QgsMapLayerComboBox()
        self.labels_combo.setFilters(
            QgsMapLayerProxyModel.Filter.LineLayer | QgsMapLayerProxyModel.Filter.PolygonLayer
        )
        self.labels_combo.setToolTip(
            tr(
                "Road centrelines or road polygons: OpenStreetMap (QuickOSM), a municipal road "
                "layer, roads you digitised, or the centrelines of a Map roads run you corrected."
            )
        )
        form.addRow(tr("Roads you have"), self.labels_combo)
        self.field_combo = QgsFieldComboBox()
        self.field_combo.setAllowEmptyFieldName(True)
        self.field_combo.setToolTip(
            tr(
                "The road class of each feature: OpenStreetMap highway values (motorway, "
                "residential, track…) and roadseg's own classes (major, minor, track) are "
                "recognised. Empty: every feature is a road of unknown class."
            )
        )
        form.addRow(tr("Class field"), self.field_combo)
        self.area_combo = QComboBox()
        for mode in ADAPT_AREA_MODES:
            self.area_combo.addItem(adapt_area_label(mode), mode)
        self.area_combo.setToolTip(
            tr(
                "Where the road layer holds every road: there, ground without a road is learnt "
                "as 'no road'. Outside it nothing is learnt."
            )
        )
        form.addRow(tr("Roads are complete in"), self.area_combo)
        self.polygon_combo = QgsMapLayerComboBox()
        self.polygon_combo.setFilters(QgsMapLayerProxyModel.Filter.PolygonLayer)
        form.addRow(tr("Polygon layer"), self.polygon_combo)
        self.model_combo = model_combo()
        form.addRow(tr("Start from"), self.model_combo)
        self.model_file = model_file_widget()
        form.addRow(tr("Model file"), self.model_file)
        self.minutes_spin = QDoubleSpinBox()
        self.minutes_spin.setRange(0.5, 600.0)
        self.minutes_spin.setDecimals(1)
        self.minutes_spin.setSuffix(tr(" min"))
        self.minutes_spin.setToolTip(
            tr(
                "The whole run fits in this time: it picks its own settings and keeps the best "
                "model. A GPU does more in the same time."
            )
        )
        form.addRow(tr("Minutes"), self.minutes_spin)
        self.name_edit = QLineEdit()
        self.name_edit.setToolTip(tr("The new model's name in the Map roads dialog."))
        form.addRow(tr("New model's name"), self.name_edit)
        outer.addLayout(form)
        self.offer_label = QLabel("")
        self.offer_label.setWordWrap(True)
        self.offer_label.hide()
        outer.addWidget(self.offer_label)
        self.error_label = error_label()
        outer.addWidget(self.error_label)
        self.buttons, self.run_button = run_buttons()
        outer.addWidget(self.buttons)

    def _intro(self) -> str:
        if self.retrain:
            return tr(
                "Correct the centreline layer of a Map roads run (delete false roads, draw "
                "missed ones, class major/minor/track), mark the area you checked, then retrain: "
                "the corrected lines are the roads there, and everything else is 'no road'."
            )
        return tr(
            "Fine-tune a model to your imagery from roads you already have. Part of them is "
            "held out to measure the road IoU before and after; the new model is kept only "
            "when it is better."
        )

    def _set_defaults(self, labels: QgsVectorLayer | None, start_model: str) -> None:
        self.raster_combo.setExceptedLayerList(unusable_rasters(rendered=True))
        active = self.iface.activeLayer() if self.iface is not None else None
        raster = default_raster(active, rendered=True)
        if raster is not None:
            self.raster_combo.setLayer(raster)
        if labels is None and isinstance(active, QgsVectorLayer):
            labels = active
        if labels is not None and self.labels_combo.layer(0) is not None:
            self.labels_combo.setLayer(labels)
        self._labels_changed()
        default_area = "canvas" if self.retrain else "labels"
        area = str(prefs.adapt_value("area_" + self._mode(), default_area))
        self._select(self.area_combo, area if area in ADAPT_AREA_MODES else default_area)
        poly = QgsProject.instance().mapLayer(str(prefs.adapt_value("polygon_layer", "")))
        if isinstance(poly, QgsVectorLayer):
            self.polygon_combo.setLayer(poly)
        self.polygon_combo.setEnabled(self.area_combo.currentData() in POLYGON_MODES)
        self.minutes_spin.setValue(float(prefs.adapt_value("minutes", DEFAULT_MINUTES)))
        if (
            start_model
            and start_model != "default"
            and not self._select(self.model_combo, start_model)
        ):
            self._select(self.model_combo, MODEL_FILE)
            self.model_file.setFilePath(start_model)
        self.model_file.setEnabled(self.model_combo.currentData() == MODEL_FILE)
        self._auto_name = self.default_name()
        self.name_edit.setText(self._auto_name)

    def _mode(self) -> str:
        return "retrain" if self.retrain else "adapt"

    def _connect(self) -> None:
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.labels_combo.layerChanged.connect(self._labels_changed)
        self.area_combo.currentIndexChanged.connect(self._area_changed)
        self.model_combo.currentIndexChanged.connect(self._model_changed)
        self.raster_combo.layerChanged.connect(self._update_name)
        self.model_file.fileChanged.connect(self._update_name)
        for sig in (
            self.polygon_combo.layerChanged,
            self.name_edit.textChanged,
            self.field_combo.fieldChanged,
        ):
            sig.connect(self.refresh)

    # -- reactions ----------------------------------------------------------------------
    def _labels_changed(self, *_args: object) -> None:
        layer = self.labels_combo.currentLayer()
        self.field_combo.setLayer(layer)
        names = [f.name() for f in layer.fields()] if isinstance(layer, QgsVectorLayer) else []
        wanted = ("class",) if self.retrain else KNOWN_CLASS_FIELDS
        self.field_combo.setField(next((n for n in wanted if n in names), ""))
        self.refresh()

    def _model_changed(self) -> None:
        self.model_file.setEnabled(self.model_combo.currentData() == MODEL_FILE)
        self._update_name()

    def _update_name(self, *_args: object) -> None:
        """Follow the imagery and the model with the name, unless the user typed one."""
        if self.name_edit.text().strip() in ("", self._auto_name):
            self._auto_name = self.default_name()
            self.name_edit.setText(self._auto_name)
        self.refresh()

    # -- choices ------------------------------------------------------------------------
    def start_model(self) -> str:
        """The starting model: ``default`` or a model file ("" when none is chosen)."""
        return self.model_choice()

    def start_problem(self) -> str:
        """Why the model to start from cannot be used ("" when it can)."""
        start = self.start_model()
        return "" if start == "default" else model_file_problem(start)

    def default_name(self) -> str:
        """A name not yet in the model list: after the imagery, or the model retrained."""
        taken = {m.name for m in prefs.adapted_models()}
        if self.retrain:
            base = tr("{model} retrained").format(model=model_label(self.start_model() or None))
        else:
            raster = self.raster_combo.currentLayer()
            base = tr("{raster} adapted").format(raster=raster.name() if raster else tr("area"))
        return unique_model_name(base, taken)

    def problem(self) -> str:
        """The first thing that stops a run ("" when none); sets :attr:`offer_text`."""
        self.offer_text = ""
        raster = self.raster_combo.currentLayer()
        mode = str(self.area_combo.currentData())
        reason = unusable_reason(raster, rendered=True) or web_area_problem(raster, mode)
        if reason:
            return reason
        labels = self.labels_combo.currentLayer()
        if not isinstance(labels, QgsVectorLayer):
            return tr("Choose the layer with the roads you have (lines or polygons).")
        try:
            area = self.area() if mode != "labels" or needs_render(raster) else None
        except InputError as exc:
            return exc.message
        bad_start = self.start_problem()
        if bad_start:
            return bad_start
        name = self.name_edit.text().strip()
        if not name:
            return tr("Give the new model a name.")
        if name in {m.name for m in prefs.adapted_models()}:
            return tr("A model named {name} is already in the list: choose another name.").format(
                name=repr(name)
            )
        if area is not None and needs_render(raster):
            return self._render_problem(raster, area)
        return ""

    def area(self) -> Area:
        """The area in the imagery's CRS: the chosen one, or around the roads (raises InputError)."""
        raster = self.raster_combo.currentLayer()
        mode = str(self.area_combo.currentData())
        if mode == "labels":
            labels = self.labels_combo.currentLayer()
            if not isinstance(raster, QgsRasterLayer) or not isinstance(labels, QgsVectorLayer):
                raise InputError(tr("Choose the imagery and the layer with the roads you have."))
            return labels_area(labels, raster, self.transform_context())
        return area_to_map(
            mode,
            raster,
            self.canvas,
            self.polygon_combo.currentLayer(),
            transform_context=self.transform_context(),
        )

    # -- web and virtual layers -----------------------------------------------------------
    def start_gsd(self) -> float:
        """The starting model's resolution (m/px; 0 until the engine told it)."""
        return self.model_gsd.get(self.start_model(), 0.0)

    def _render_problem(self, raster: QgsRasterLayer, area: Area) -> str:
        """What the layer offers (:attr:`offer_text`), and why it cannot be rendered yet."""
        gsd = self.start_gsd()
        self.offer_text = layer_offer(raster, area, gsd, self.transform_context()).text()
        if gsd <= 0:
            if self.gsd_error:
                return tr(
                    "The resolution of the model to start from is not known ({error}): choose "
                    "another model, or save the layer as a GeoTIFF and use that."
                ).format(error=self.gsd_error)
            return tr("Asking the engine for the starting model's resolution…")
        est = estimate(area.area_m2, gsd, "cpu", limit_km2=prefs.limit_km2())
        return est.limit_message() if est.over_limit else ""

    def _fetch_gsd(self) -> None:
        """Ask the engine for the starting model's resolution (web and virtual layers only)."""
        start = self.start_model()
        if (
            not needs_render(self.raster_combo.currentLayer())
            or start in self.model_gsd
            or self.start_problem()
            or start == self._asked
        ):
            return
        self._asked, self.gsd_error = start, ""
        try:
            self.loader.start(prefs.current_engine(), None if start == "default" else start)
        except EngineNotFoundError as exc:
            self.gsd_error = exc.message

    def _gsd_loaded(self, models: list, error: str) -> None:
        asked = self.loader.model_file or "default"
        gsd = model_gsd(models, asked)
        if gsd > 0:
            self.model_gsd[asked] = gsd
        else:
            self.gsd_error = error or tr("the model does not give its resolution")
        self.refresh()

    def refresh(self, *_args: object) -> None:
        """Re-check the choices: the first problem in red, Run enabled only without one."""
        self._fetch_gsd()
        self.show_error(self.problem())
        self.offer_label.setText(self.offer_text)
        self.offer_label.setVisible(bool(self.offer_text))

    def parameters(self, work_dir: Path) -> AdaptParameters:
        """Write the roads and the area into ``work_dir`` and return the run's parameters.

        Raises:
            InputError: with the message the dialog shows.

        """
        message = self.problem()
        if message:
            raise InputError(message)
        raster = self.raster_combo.currentLayer()
        transforms = self.transform_context()
        labels = export_labels(
            self.labels_combo.currentLayer(), self.field_combo.currentField(), work_dir, transforms
        )
        area = write_area(
            str(self.area_combo.currentData()),
            raster,
            self.canvas,
            self.polygon_combo.currentLayer(),
            work_dir,
            transforms,
        )
        name = self.name_edit.text().strip()
        folder = prefs.models_dir()
        folder.mkdir(parents=True, exist_ok=True)
        stem = unique_name(folder, safe_name(name, "model"), ".safetensors")
        out = folder / f"{stem}.safetensors"
        start = self.start_model()
        path = raster.source().split("|", 1)[0]
        self.render_job = None
        if needs_render(raster):
            self.render_job = plan_render(raster, self.area(), self.start_gsd(), transforms)
            path = str(self.render_job.path)
        return AdaptParameters(
            raster_path=path,
            raster_name=raster.name(),
            labels_path=str(labels),
            out_path=str(out),
            name=name,
            class_field=self.field_combo.currentField(),
            area_path=str(area) if area else None,
            model=start,
            model_label=model_label(start),
            minutes=float(self.minutes_spin.value()),
            mode="retrain" if self.retrain else "adapt",
        )

    def accept(self) -> None:
        """Stay open with the problem shown when something is wrong; remember the choices."""
        message = self.problem()
        if message:
            self.show_error(message)
            return
        poly = self.polygon_combo.currentLayer()
        prefs.set_adapt_values(
            {
                "area_" + self._mode(): str(self.area_combo.currentData()),
                "polygon_layer": poly.id() if poly is not None else "",
                "minutes": float(self.minutes_spin.value()),
            }
        )
        super().accept()

    def done(self, result: int) -> None:
        """Stop a pending model query when the dialog closes."""
        self.loader.stop()
        super().done(result)
