"""The "Map roads" dialog: widgets in, a :class:`RunParameters` out."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from qgis.core import Qgis, QgsMapLayerProxyModel, QgsProject, QgsRasterLayer
from qgis.gui import QgsFileWidget, QgsMapLayerComboBox, QgsMessageBar
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import EngineNotFoundError, InputError
from ..core.estimate import Estimate, estimate
from ..core.outputs import check_output_dir, temporary_output_dir
from ..core.params import AREA_LABELS, AREA_MODES, DEVICES, Outputs, RunParameters, default_run_name
from . import settings
from .area import Area, area_to_map, raster_gsd_m
from .model_info import ModelInfoLoader, describe

MODEL_FILE = "__file__"
MODEL_FILTER = "roadseg model (*.safetensors *.pt *.pth *.roadseg);;All files (*)"


class MapRoadsDialog(QDialog):
    """Choose raster, area, model, options and outputs; :meth:`parameters` builds the run.

    Args:
        iface: The QGIS interface (for the map canvas).
        parent: Parent widget.
        fetch_models: Ask the engine for its models when the dialog opens.

    """

    def __init__(
        self, iface: Any, parent: QWidget | None = None, fetch_models: bool = True
    ) -> None:
        super().__init__(parent)
        self.iface = iface
        self.setWindowTitle("Map roads")
        self.setMinimumWidth(560)
        self.model_infos: dict[str, dict[str, Any]] = {}
        self.file_info: dict[str, Any] | None = None
        self.loader = ModelInfoLoader(self)
        self.loader.loaded.connect(self._models_loaded)
        self._build()
        self._connect()
        self._set_defaults()
        if fetch_models:
            self.fetch_models()
        self.refresh_estimate()

    # -- layout ---------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        self.bar = QgsMessageBar(self)
        self.bar.setSizePolicy(QSizePolicy.Minimum, QSizePolicy.Fixed)
        outer.addWidget(self.bar)

        box = QGroupBox("Imagery and area")
        form = QFormLayout(box)
        self.raster_combo = QgsMapLayerComboBox()
        self.raster_combo.setFilters(QgsMapLayerProxyModel.RasterLayer)
        form.addRow("Raster layer", self.raster_combo)
        self.area_combo = QComboBox()
        for mode in AREA_MODES:
            self.area_combo.addItem(AREA_LABELS[mode], mode)
        form.addRow("Area", self.area_combo)
        self.polygon_combo = QgsMapLayerComboBox()
        self.polygon_combo.setFilters(QgsMapLayerProxyModel.PolygonLayer)
        self.polygon_combo.setAllowEmptyLayer(True)
        form.addRow("Polygon layer", self.polygon_combo)
        outer.addWidget(box)

        box = QGroupBox("Model")
        form = QFormLayout(box)
        self.model_combo = QComboBox()
        self.model_combo.addItem("Embedded default model", "default")
        self.model_combo.addItem("Model file…", MODEL_FILE)
        form.addRow("Model", self.model_combo)
        self.model_file = QgsFileWidget()
        self.model_file.setFilter(MODEL_FILTER)
        self.model_file.setDialogTitle("Choose a roadseg model file")
        form.addRow("Model file", self.model_file)
        self.model_label = QLabel("Asking the engine for its models…")
        self.model_label.setWordWrap(True)
        form.addRow("", self.model_label)
        outer.addWidget(box)

        box = QGroupBox("Processing")
        form = QFormLayout(box)
        self.device_combo = QComboBox()
        self.device_combo.addItems(list(DEVICES))
        form.addRow("Device", self.device_combo)
        row = QHBoxLayout()
        self.tile_spin = QSpinBox()
        self.tile_spin.setRange(0, 8192)
        self.tile_spin.setSingleStep(64)
        self.tile_spin.setSpecialValueText("model default")
        self.tile_spin.setSuffix(" px")
        self.overlap_spin = QSpinBox()
        self.overlap_spin.setRange(-1, 2048)
        self.overlap_spin.setSingleStep(16)
        self.overlap_spin.setSpecialValueText("auto")
        self.overlap_spin.setSuffix(" px")
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(0, 256)
        self.batch_spin.setSpecialValueText("auto")
        for label, w in (
            ("Tile", self.tile_spin),
            ("Overlap", self.overlap_spin),
            ("Batch", self.batch_spin),
        ):
            row.addWidget(QLabel(label))
            row.addWidget(w, 1)
        form.addRow("Tiling", row)
        outer.addWidget(box)

        box = QGroupBox("Outputs")
        form = QFormLayout(box)
        row = QHBoxLayout()
        self.polygons_check = QCheckBox("Road polygons")
        self.centrelines_check = QCheckBox("Centrelines")
        self.raster_check = QCheckBox("Class raster")
        for w in (self.polygons_check, self.centrelines_check, self.raster_check):
            row.addWidget(w)
        row.addStretch(1)
        form.addRow("Layers", row)
        self.output_widget = QgsFileWidget()
        self.output_widget.setStorageMode(QgsFileWidget.GetDirectory)
        self.output_widget.setDialogTitle("Output folder")
        self.temp_check = QCheckBox("Temporary folder")
        row = QHBoxLayout()
        row.addWidget(self.output_widget, 1)
        row.addWidget(self.temp_check)
        form.addRow("Output folder", row)
        outer.addWidget(box)

        self.estimate_label = QLabel("")
        self.estimate_label.setWordWrap(True)
        self.estimate_label.setTextFormat(Qt.RichText)
        outer.addWidget(self.estimate_label)

        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Run")
        self.settings_button = QPushButton("Settings…")
        self.buttons.addButton(self.settings_button, QDialogButtonBox.ResetRole)
        outer.addWidget(self.buttons)

    def _connect(self) -> None:
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.settings_button.clicked.connect(self.open_settings)
        self.area_combo.currentIndexChanged.connect(self._area_changed)
        self.model_combo.currentIndexChanged.connect(self._model_changed)
        self.model_file.fileChanged.connect(self._model_file_changed)
        self.temp_check.toggled.connect(lambda on: self.output_widget.setEnabled(not on))
        for sig in (
            self.raster_combo.layerChanged,
            self.polygon_combo.layerChanged,
            self.device_combo.currentIndexChanged,
        ):
            sig.connect(self.refresh_estimate)
        canvas = self.canvas
        if canvas is not None:
            canvas.extentsChanged.connect(self.refresh_estimate)

    def _set_defaults(self) -> None:
        self.device_combo.setCurrentText(settings.default_device())
        self.tile_spin.setValue(0)
        self.overlap_spin.setValue(-1)
        self.batch_spin.setValue(0)
        self.polygons_check.setChecked(True)
        self.centrelines_check.setChecked(True)
        self.raster_check.setChecked(False)
        home = QgsProject.instance().homePath()
        if home:
            self.output_widget.setFilePath(home)
            self.temp_check.setChecked(False)
        else:
            self.output_widget.setFilePath(str(temporary_output_dir()))
            self.temp_check.setChecked(True)
        active = self.iface.activeLayer() if self.iface is not None else None
        if isinstance(active, QgsRasterLayer):
            self.raster_combo.setLayer(active)
        self._area_changed()
        self._model_changed()

    # -- reactions ------------------------------------------------------------------
    @property
    def canvas(self) -> Any:
        """The map canvas (None without an interface)."""
        return self.iface.mapCanvas() if self.iface is not None else None

    def _area_changed(self) -> None:
        self.polygon_combo.setEnabled(self.area_combo.currentData() == "selection")
        self.refresh_estimate()

    def _model_changed(self) -> None:
        is_file = self.model_combo.currentData() == MODEL_FILE
        self.model_file.setEnabled(is_file)
        self._show_model_info()
        if is_file and self.model_file.filePath():
            self._model_file_changed(self.model_file.filePath())
        self.refresh_estimate()

    def _model_file_changed(self, path: str) -> None:
        self.file_info = None
        if self.model_combo.currentData() != MODEL_FILE or not path:
            return
        if not Path(path).is_file():
            self.model_label.setText(f"<span style='color:#b42318'>No file at {path}</span>")
            return
        self.model_label.setText("Reading the model file…")
        self._fetch(path)

    def fetch_models(self) -> None:
        """Ask the engine for its embedded models (asynchronously)."""
        self._fetch(None)

    def _fetch(self, model_file: str | None) -> None:
        try:
            engine = settings.current_engine()
        except EngineNotFoundError as exc:
            self.model_label.setText(f"<span style='color:#b42318'>{exc.message}</span>")
            return
        self._fetching_file = model_file
        self.loader.start(engine, model_file)

    def _models_loaded(self, models: list, error: str) -> None:
        if getattr(self, "_fetching_file", None):
            self.file_info = models[0] if models else None
            if error:
                self.model_label.setText(
                    f"<span style='color:#b42318'>This model file cannot be used: {error}</span>"
                )
                return
        else:
            for m in models:
                self.model_infos[str(m.get("name", "default"))] = m
            for name in self.model_infos:
                if self.model_combo.findData(name) < 0:
                    self.model_combo.insertItem(
                        self.model_combo.count() - 1, f"Embedded: {name}", name
                    )
            if error:
                self.model_label.setText(f"Model information unavailable: {error}")
                return
        self._show_model_info()
        self.refresh_estimate()

    def _show_model_info(self) -> None:
        info = self.current_model_info()
        if info is not None:
            self.model_label.setText(describe(info))

    def current_model_info(self) -> dict[str, Any] | None:
        """Return the selected model's description (None until the engine answered)."""
        if self.model_combo.currentData() == MODEL_FILE:
            return self.file_info
        return self.model_infos.get(str(self.model_combo.currentData()))

    def open_settings(self) -> None:
        """Open the settings dialog, then re-read the models."""
        dlg = settings.SettingsDialog(self)
        if dlg.exec_():
            self.fetch_models()
            self.refresh_estimate()

    # -- estimate and parameters ------------------------------------------------------
    def current_area(self) -> Area:
        """Return the area to map in the raster CRS (raises InputError)."""
        return area_to_map(
            str(self.area_combo.currentData()),
            self.raster_combo.currentLayer(),
            self.canvas,
            self.polygon_combo.currentLayer(),
        )

    def current_estimate(self, area: Area) -> Estimate:
        """Pixels and time for ``area`` with the selected model and device."""
        info = self.current_model_info() or {}
        gsd = float(info.get("gsd_m") or 0.0)
        raster = self.raster_combo.currentLayer()
        if gsd <= 0 and raster is not None:
            gsd = raster_gsd_m(raster)
        device = self.device_combo.currentText()
        return estimate(
            area.area_m2, gsd, device, settings.throughput(device), settings.limit_km2()
        )

    def refresh_estimate(self, *_args: object) -> None:
        """Update the estimate line (red when the run cannot start)."""
        try:
            est = self.current_estimate(self.current_area())
        except InputError as exc:
            self.estimate_label.setText(f"<span style='color:#b42318'>{exc.message}</span>")
            return
        if est.over_limit:
            self.estimate_label.setText(
                f"<span style='color:#b42318'>{est.text()}<br>{est.limit_message()}</span>"
            )
        else:
            self.estimate_label.setText(est.text())

    def output_dir(self) -> str:
        """Return the chosen output folder (the temporary one when ticked)."""
        if self.temp_check.isChecked():
            return str(temporary_output_dir())
        return self.output_widget.filePath().strip()

    def parameters(self) -> RunParameters:
        """Build the run's parameters from the widgets.

        Raises:
            InputError: with a message for the dialog's message bar.

        """
        raster = self.raster_combo.currentLayer()
        if raster is None:
            raise InputError("There is no raster layer: add imagery to the project first.")
        if raster.providerType() != "gdal" or not Path(raster.source()).is_file():
            raise InputError(
                f"The layer {raster.name()!r} is not a raster file on disk (web or virtual layers "
                "are not supported): save it as a GeoTIFF (Export ▸ Save As) and use that."
            )
        area = self.current_area()
        est = self.current_estimate(area)
        if est.over_limit:
            raise InputError(est.limit_message())
        model = None
        if self.model_combo.currentData() == MODEL_FILE:
            model = self.model_file.filePath().strip()
            if not model:
                raise InputError("Choose a model file, or the embedded default model.")
            if not Path(model).is_file():
                raise InputError(f"The model file {model!r} does not exist.")
        elif self.model_combo.currentData() not in (None, "default"):
            model = str(self.model_combo.currentData())
        elif self.loader.done and "default" not in self.model_infos and self.loader.error:
            raise InputError(
                f"The embedded default model cannot be used ({self.loader.error}): "
                "choose a model file."
            )
        out_dir = self.output_dir()
        if not out_dir:
            raise InputError("Choose an output folder (or tick 'Temporary folder').")
        check_output_dir(out_dir)
        stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        return RunParameters(
            raster_path=raster.source(),
            raster_name=raster.name(),
            bbox=area.bbox,
            bbox_crs=area.crs,
            output_dir=out_dir,
            outputs=Outputs(
                self.polygons_check.isChecked(),
                self.centrelines_check.isChecked(),
                self.raster_check.isChecked(),
            ),
            model=model,
            device=self.device_combo.currentText(),
            tile=self.tile_spin.value() or None,
            overlap=None if self.overlap_spin.value() < 0 else self.overlap_spin.value(),
            batch_size=self.batch_spin.value() or None,
            area_mode=str(self.area_combo.currentData()),  # type: ignore[arg-type]
            run_name=default_run_name(raster.name(), stamp),
            area_km2=area.area_m2 / 1e6,
            aoi_geojson=area.geojson,
        )

    def accept(self) -> None:
        """Validate; stay open with a message when something is wrong."""
        try:
            self.params = self.parameters()
        except InputError as exc:
            self.show_error(exc.message)
            return
        super().accept()

    def show_error(self, message: str) -> None:
        """Show a message in the dialog's own message bar."""
        self.bar.clearWidgets()
        self.bar.pushMessage("Cannot run", message, Qgis.Warning, 0)
        self.last_error = message

    def done(self, result: int) -> None:
        """Stop a pending model query when the dialog closes."""
        self.loader.stop()
        super().done(result)
