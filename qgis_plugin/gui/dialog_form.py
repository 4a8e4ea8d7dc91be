"""The widgets of the Map roads dialog, with their tooltips (no behaviour: see ``dialog``).

Also what the Map roads and the Adapt dialogs share: the model list and file widget, the
red problem line, the Run buttons (builders) and the reactions to them (:class:`ChoiceChecks`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import QgsCoordinateTransformContext, QgsMapLayerProxyModel, QgsProject
from qgis.gui import QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
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

from ..core.i18n import tr
from ..core.params import AREA_MODES, POLYGON_MODES, area_label
from . import prefs

MODEL_FILE = "__file__"
MODEL_FILTER = "roadseg model (*.safetensors *.pt *.pth *.roadseg);;All files (*)"
RED = "#b42318"


def model_combo() -> QComboBox:
    """The model list: the embedded default model, the adapted models, then *Model file…*."""
    combo = QComboBox()
    combo.addItem(tr("Default model (embedded)"), "default")
    for entry in prefs.adapted_models():
        combo.addItem(entry.label(), entry.path)
    combo.addItem(tr("Model file…"), MODEL_FILE)
    return combo


def models_own_spin(most: float, tooltip: str) -> QDoubleSpinBox:
    """A 0–``most`` spin box in steps of 0.05 whose 0 reads "model's own" (the engine's default)."""
    spin = QDoubleSpinBox()
    spin.setRange(0.0, most)
    spin.setDecimals(2)
    spin.setSingleStep(0.05)
    spin.setSpecialValueText(tr("model's own"))
    spin.setToolTip(tooltip)
    return spin


def model_file_widget() -> QgsFileWidget:
    """The file widget of *Model file…*."""
    widget = QgsFileWidget()
    widget.setFilter(MODEL_FILTER)
    widget.setDialogTitle(tr("Choose a roadseg model file"))
    return widget


def error_label() -> QLabel:
    """The red box above the buttons that names the first problem (hidden when there is none)."""
    label = QLabel("")
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setStyleSheet(
        f"QLabel {{ color: {RED}; background: #fdecea; border: 1px solid #f3b7b0; "
        "border-radius: 4px; padding: 6px; }"
    )
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.MinimumExpanding)
    label.hide()
    return label


def run_buttons(help_button: bool = False) -> tuple[QDialogButtonBox, QPushButton]:
    """OK (labelled *Run*) and Cancel (and Help); returns the box and the Run button."""
    which = QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    if help_button:
        which |= QDialogButtonBox.StandardButton.Help
    buttons = QDialogButtonBox(which)
    run = buttons.button(QDialogButtonBox.StandardButton.Ok)
    run.setText(tr("Run"))
    return buttons, run


def model_file_problem(path: str) -> str:
    """Why a chosen model file cannot be used ("" when it exists).

    >>> model_file_problem("")
    'Choose a model file, or the default model.'
    >>> model_file_problem("/nowhere/m.safetensors")
    "The model file '/nowhere/m.safetensors' does not exist."
    """
    if not path:
        return tr("Choose a model file, or the default model.")
    if not Path(path).is_file():
        return tr("The model file {path} does not exist.").format(path=repr(path))
    return ""


class ChoiceChecks:
    """The reactions the Map roads and Adapt dialogs share (a mixin before the QDialog base).

    Every change re-checks the choices (:meth:`refresh`, the dialog's own); the first
    problem shows in red above the buttons and *Run* stays disabled until it is fixed.
    """

    iface: Any
    area_combo: QComboBox
    polygon_combo: QgsMapLayerComboBox
    model_combo: QComboBox
    model_file: QgsFileWidget
    error_label: QLabel
    run_button: QPushButton
    last_error: str

    def refresh(self, *_args: object) -> None:
        """Re-check the choices (each dialog has its own checks)."""
        raise NotImplementedError

    @staticmethod
    def _select(combo: QComboBox, data: str) -> bool:
        """Choose the item of ``combo`` whose data is ``data``; False when there is none."""
        idx = combo.findData(data)
        if idx >= 0:
            combo.setCurrentIndex(idx)
        return idx >= 0

    @property
    def canvas(self) -> Any:
        """The map canvas (None without an interface)."""
        return self.iface.mapCanvas() if self.iface is not None else None

    @staticmethod
    def transform_context() -> QgsCoordinateTransformContext:
        """The project's datum transforms (Processing passes its context's instead)."""
        return QgsProject.instance().transformContext()

    def _area_changed(self) -> None:
        self.polygon_combo.setEnabled(self.area_combo.currentData() in POLYGON_MODES)
        self.refresh()

    def model_choice(self) -> str:
        """The chosen model: ``default``, an embedded model, an adapted model's file, or a file.

        "" when *Model file…* is chosen and no file is given.
        """
        data = str(self.model_combo.currentData())
        return self.model_file.filePath().strip() if data == MODEL_FILE else data

    def show_error(self, message: str) -> None:
        """Show the problem above the buttons (empty: hide it) and enable Run only without one."""
        self.last_error = message or self.last_error
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))
        self.run_button.setEnabled(not message)


class MapRoadsForm(QDialog):
    """The dialog's widgets: imagery and area, model, processing options, outputs, buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Map roads"))
        self.setMinimumWidth(600)
        self._build()

    def _build(self) -> None:
        outer = QVBoxLayout(self)

        box = QGroupBox(tr("Imagery and area"))
        form = QFormLayout(box)
        self.raster_combo = QgsMapLayerComboBox()
        self.raster_combo.setFilters(QgsMapLayerProxyModel.Filter.RasterLayer)
        self.raster_combo.setToolTip(
            tr(
                "The aerial or satellite image to map (a raster file; web basemaps and roadseg's "
                "own class rasters are not listed)."
            )
        )
        form.addRow(tr("Raster layer"), self.raster_combo)
        self.area_combo = QComboBox()
        for mode in AREA_MODES:
            self.area_combo.addItem(area_label(mode), mode)
        self.area_combo.setToolTip(
            tr(
                "What to map: the part of the raster visible on the map, the whole raster, every "
                "polygon of a layer, or the selected polygons (outside polygons the result is "
                "empty)."
            )
        )
        form.addRow(tr("Area"), self.area_combo)
        self.polygon_combo = QgsMapLayerComboBox()
        self.polygon_combo.setFilters(QgsMapLayerProxyModel.Filter.PolygonLayer)
        self.polygon_combo.setToolTip(tr("The polygon layer that outlines the area to map."))
        form.addRow(tr("Polygon layer"), self.polygon_combo)
        outer.addWidget(box)

        box = QGroupBox(tr("Model"))
        form = QFormLayout(box)
        self.model_combo = model_combo()
        self.model_combo.setToolTip(
            tr(
                "The embedded default model maps major roads, minor roads and tracks in RGB "
                "imagery around 0.5 m/px; adapted models come from Adapt model and Retrain from "
                "corrections; a model file from `roadseg train` or Processing ▸ roadseg."
            )
        )
        self.remove_model_button = QPushButton(tr("Remove"))
        self.remove_model_button.setToolTip(
            tr("Take the chosen adapted model off this list (its file in the profile is deleted).")
        )
        row = QHBoxLayout()
        row.addWidget(self.model_combo, 1)
        row.addWidget(self.remove_model_button)
        form.addRow(tr("Model"), row)
        self.model_file = model_file_widget()
        form.addRow(tr("Model file"), self.model_file)
        self.model_label = QLabel(tr("Asking the engine for its models…"))
        self.model_label.setWordWrap(True)
        self.model_label.setTextFormat(Qt.TextFormat.RichText)
        self.model_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        form.addRow(self.model_label)  # the whole width: no blank band around wrapped text
        self.fit_button = QPushButton(tr("Check fit"))
        self.fit_button.setToolTip(
            tr(
                "Predict eight windows of 256 m in the area with the chosen model and options "
                "(seconds, nothing written) and say how sure the model is of this imagery: "
                "good, fair or poor. Poor means missed and false roads: adapt the model first."
            )
        )
        self.fit_label = QLabel("")
        self.fit_label.setWordWrap(True)
        self.fit_label.setTextFormat(Qt.TextFormat.RichText)
        row = QHBoxLayout()
        row.addWidget(self.fit_button)
        row.addWidget(self.fit_label, 1)
        form.addRow(row)
        outer.addWidget(box)

        box = QGroupBox(tr("Processing"))
        form = QFormLayout(box)
        self.device_combo = QComboBox()
        for device in ("auto", "cpu", *prefs.devices_found()):
            self.device_combo.addItem(device, device)
        self.device_combo.setToolTip(
            tr(
                "auto: the GPU when the engine finds one, else the CPU. GPUs appear here once "
                "Test engine or a run found them."
            )
        )
        form.addRow(tr("Device"), self.device_combo)
        row = QHBoxLayout()
        self.tile_spin = QSpinBox()
        self.tile_spin.setRange(0, 8192)
        self.tile_spin.setSingleStep(64)
        self.tile_spin.setSpecialValueText(tr("model's"))  # fits the row ("model default" was cut)
        self.tile_spin.setSuffix(" px")
        self.tile_spin.setToolTip(
            tr(
                "Tile: the square of pixels the network sees at once (at the model's "
                "resolution). Bigger tiles see more context and need more memory."
            )
        )
        self.overlap_spin = QSpinBox()
        self.overlap_spin.setRange(-1, 2048)
        self.overlap_spin.setSingleStep(16)
        self.overlap_spin.setSpecialValueText(tr("auto"))
        self.overlap_spin.setSuffix(" px")
        self.overlap_spin.setToolTip(
            tr(
                "Overlap: pixels shared by neighbouring tiles and blended, so roads do not break "
                "at tile edges (auto: a quarter of the tile)."
            )
        )
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(0, 256)
        self.batch_spin.setSpecialValueText(tr("auto"))
        self.batch_spin.setToolTip(
            tr(
                "Batch: tiles per network call; more is faster on a GPU and needs more memory "
                "(auto: 8 on a GPU, 2 on the CPU)."
            )
        )
        for label, w in (
            (tr("Tile"), self.tile_spin),
            (tr("Overlap"), self.overlap_spin),
            (tr("Batch"), self.batch_spin),
        ):
            text = QLabel(label)
            text.setToolTip(w.toolTip())
            row.addWidget(text)
            row.addWidget(w, 1)
        form.addRow(tr("Tiling"), row)
        self.working_gsd_spin = models_own_spin(
            10.0,
            tr(
                "Working resolution: the ground metres per pixel the network runs at (empty: the "
                "model's own, e.g. 0.5 m). A little finer, e.g. 0.4 m for a 0.5 m model, can "
                "connect the centrelines better on fine imagery and costs (0.5/0.4)² = 1.6× the "
                "time; also for imagery whose stated resolution is off. Accepted: half to twice "
                "the model's. Results stay on the imagery's grid."
            ),
        )
        self.working_gsd_spin.setSuffix(" m")
        form.addRow(tr("Working resolution"), self.working_gsd_spin)
        self.threshold_spin = models_own_spin(
            0.95,
            tr(
                "Road threshold: a pixel is road where the model's road probability reaches this "
                "(empty: the model's own, 0.5 for the built-in model). Lower finds more road and "
                "fewer gaps in the centrelines, with more false road; higher, less. Try 0.35-0.4 "
                "where the model misses roads on your imagery."
            ),
        )
        form.addRow(tr("Road threshold"), self.threshold_spin)
        outer.addWidget(box)

        box = QGroupBox(tr("Outputs"))
        form = QFormLayout(box)
        row = QHBoxLayout()
        self.polygons_check = QCheckBox(tr("Road polygons"))
        self.polygons_check.setToolTip(tr("One polygon layer per road class: the road surface."))
        self.centrelines_check = QCheckBox(tr("Centrelines"))
        self.centrelines_check.setToolTip(
            tr("A connected network of road axes with class, width and length attributes.")
        )
        self.raster_check = QCheckBox(tr("Class raster"))
        self.raster_check.setToolTip(
            tr("The model's raster: one road class per pixel, on the imagery's grid.")
        )
        for w in (self.polygons_check, self.centrelines_check, self.raster_check):
            row.addWidget(w)
        row.addStretch(1)
        form.addRow(tr("Layers"), row)
        self.output_widget = QgsFileWidget()
        self.output_widget.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.output_widget.setDialogTitle(tr("Folder for roadseg results"))
        self.output_widget.lineEdit().setPlaceholderText(tr("asked when you press Run"))
        self.output_widget.setToolTip(
            tr(
                "Each run gets its own folder in here. A saved project keeps its results in "
                "<project folder>/roadseg; for unsaved projects the folder is asked once and "
                "remembered (Settings)."
            )
        )
        form.addRow(tr("Results folder"), self.output_widget)
        outer.addWidget(box)

        self.estimate_label = QLabel("")
        self.estimate_label.setWordWrap(True)
        outer.addWidget(self.estimate_label)
        self.error_label = error_label()
        outer.addWidget(self.error_label)

        self.buttons, self.run_button = run_buttons(help_button=True)
        self.settings_button = QPushButton(tr("Settings…"))
        self.buttons.addButton(self.settings_button, QDialogButtonBox.ButtonRole.ResetRole)
        outer.addWidget(self.buttons)
