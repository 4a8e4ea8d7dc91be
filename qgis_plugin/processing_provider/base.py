"""What the roadseg algorithms share: the engine command, running it, inputs, icon and help."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProviderRegistry,
    QgsRasterLayer,
)
from qgis.PyQt.QtGui import QIcon

from ..core.commands import display
from ..core.engine import engine_env
from ..core.errors import PluginError
from ..core.i18n import tr
from ..core.process import run_engine
from ..core.protocol import ForwardProgress, ProgressLine, ProgressMapper
from ..core.sources import is_engine_raster, source_path
from ..gui import prefs

ICON = Path(__file__).resolve().parents[1] / "icons" / "roadseg.svg"
MODEL_FILTER = "roadseg model (*.safetensors *.pt *.pth *.roadseg);;All files (*)"


def engine_argv() -> tuple[str, ...]:
    """Return the engine command, or a Processing error saying how to install it."""
    try:
        return prefs.current_engine().argv
    except PluginError as exc:
        raise QgsProcessingException(exc.message) from None


class StageMapper(Protocol):
    """Turns an engine command's progress lines into bar percentages, never back."""

    def percent(self, line: ProgressLine) -> float:
        """The bar's percentage after ``line``."""
        ...


def run_cli(
    argv: list[str],
    feedback: QgsProcessingFeedback | None,
    vectorize: bool = False,
    bar: ForwardProgress | None = None,
    mapper: StageMapper | None = None,
) -> dict[str, Any]:
    """Run an engine command with progress and cancel; return its JSON result.

    ``bar`` is the run's progress when a rendering filled the start of it already;
    ``mapper`` turns the command's progress lines into percentages (default: the
    predict/train/vectorize stages, :class:`ProgressMapper`).
    """
    feedback = feedback or QgsProcessingFeedback()
    mapper = mapper or ProgressMapper(vectorize=vectorize)
    bar = bar or ForwardProgress(feedback.setProgress)
    feedback.pushCommandInfo(display(argv))

    def progress(line: Any) -> None:
        bar(mapper.percent(line))
        if line.message:
            feedback.setProgressText(f"{line.stage}: {line.message}")

    try:
        res = run_engine(
            argv,
            env=engine_env(),
            on_progress=progress,
            on_log=feedback.pushConsoleInfo,
            is_cancelled=feedback.isCanceled,
        )
    except PluginError as exc:
        raise QgsProcessingException(exc.message) from None
    if res.cancelled:
        raise QgsProcessingException(
            tr("Cancelled by the user: the engine was stopped and wrote no output.")
        )
    if not res.ok:
        feedback.reportError(res.details(), False)
        raise QgsProcessingException(res.message())
    feedback.setProgress(100)
    assert res.result is not None
    return res.result


def gpkg_layers(path: str) -> list[str]:
    """``path|layername=…`` URIs of a GeoPackage's layers."""
    md = QgsProviderRegistry.instance().providerMetadata("ogr")
    return [f"{path}|layername={s.name()}" for s in md.querySublayers(path)]


def raster_file(
    alg: QgsProcessingAlgorithm, parameters: dict, name: str, context: QgsProcessingContext
) -> QgsRasterLayer:
    """Return the raster parameter as a GDAL layer on disk (or a clear error)."""
    layer = alg.parameterAsRasterLayer(parameters, name, context)
    if layer is None:
        raise QgsProcessingException(alg.invalidRasterError(parameters, name))
    if layer.providerType() != "gdal" or not is_engine_raster(source_path(layer.source())):
        raise QgsProcessingException(
            tr("The layer {name} is not a raster file on disk: save it as a GeoTIFF first.").format(
                name=repr(layer.name())
            )
        )
    return layer


class RoadsegAlgorithm(QgsProcessingAlgorithm):
    """Base of the roadseg algorithms: no group, the roadseg icon, the plugin's help."""

    def group(self) -> str:
        """No group: the algorithms sit directly under the provider."""
        return ""

    def groupId(self) -> str:  # noqa: N802 - QGIS API
        """No group id."""
        return ""

    def icon(self) -> QIcon:
        """The roadseg icon (not the generic gear)."""
        return QIcon(str(ICON))

    def svgIconPath(self) -> str:  # noqa: N802 - QGIS API
        """The roadseg icon as an SVG path (the Model Builder uses it)."""
        return str(ICON)

    def helpUrl(self) -> str:  # noqa: N802 - QGIS API
        """The plugin's help page."""
        return prefs.help_url()

    def tr(self, text: str) -> str:
        """Translate a text (the plugin's one translation context)."""
        return tr(text)

    def createInstance(self) -> QgsProcessingAlgorithm:  # noqa: N802 - QGIS API
        """Return a new instance (Processing clones algorithms)."""
        return type(self)()
