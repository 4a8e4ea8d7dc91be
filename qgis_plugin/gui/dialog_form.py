"""The widgets of the Map roads dialog, with their tooltips (no behaviour: see ``dialog``)."""

from __future__ import annotations

from qgis.core import QgsMapLayerProxyModel
from qgis.gui import QgsFileWidget, QgsMapLayerComboBox
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

from ..core.i18n import tr
from ..core.params import AREA_MODES, area_label
from . import prefs

MODEL_FILE = "__file__"
MODEL_FILTER = "roadseg model (*.safetensors *.pt *.pth *.roadseg);;All files (*)"
RED = "#b42318"


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
        self.model_combo = QComboBox()
        self.model_combo.addItem(tr("Default model (embedded)"), "default")
        self.model_combo.addItem(tr("Model file…"), MODEL_FILE)
        self.model_combo.setToolTip(
            tr(
                "The embedded default model maps major roads, minor roads and tracks in RGB "
                "imagery around 0.5 m/px; adapted models come from Adapt model and Retrain from "
                "corrections; a model file from `roadseg train` or Processing ▸ roadseg."
            )
        )
        for entry in prefs.adapted_models():
            self.model_combo.insertItem(self.model_combo.count() - 1, entry.label(), entry.path)
        self.remove_model_button = QPushButton(tr("Remove"))
        self.remove_model_button.setToolTip(
            tr("Take the chosen adapted model off this list (its file in the profile is deleted).")
        )
        row = QHBoxLayout()
        row.addWidget(self.model_combo, 1)
        row.addWidget(self.remove_model_button)
        form.addRow(tr("Model"), row)
        self.model_file = QgsFileWidget()
        self.model_file.setFilter(MODEL_FILTER)
        self.model_file.setDialogTitle(tr("Choose a roadseg model file"))
        form.addRow(tr("Model file"), self.model_file)
        self.model_label = QLabel(tr("Asking the engine for its models…"))
        self.model_label.setWordWrap(True)
        self.model_label.setTextFormat(Qt.TextFormat.RichText)
        self.model_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        form.addRow(self.model_label)  # the whole width: no blank band around wrapped text
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
        self.tile_spin.setSpecialValueText(tr("model default"))
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
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet(
            f"QLabel {{ color: {RED}; background: #fdecea; border: 1px solid #f3b7b0; "
            "border-radius: 4px; padding: 6px; }"
        )
        self.error_label.setSizePolicy(
            QSizePolicy.Policy.Preferred, QSizePolicy.Policy.MinimumExpanding
        )
        self.error_label.hide()
        outer.addWidget(self.error_label)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.Help
        )
        self.run_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.run_button.setText(tr("Run"))
        self.settings_button = QPushButton(tr("Settings…"))
        self.buttons.addButton(self.settings_button, QDialogButtonBox.ButtonRole.ResetRole)
        outer.addWidget(self.buttons)
