"""The plugin's remembered settings (QgsSettings under ``roadseg/``)."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

from qgis.core import QgsApplication, QgsProject, QgsSettings

from ..core.adapted import AdaptedModel, models_from_text, models_to_text, replace_entry
from ..core.engine import EngineCommand, find_engine
from ..core.estimate import DEFAULT_LIMIT_KM2
from ..core.install import engine_venv_dir
from ..core.params import DEVICES

PLUGIN_DIR = Path(__file__).resolve().parents[1]
PREFIX = "roadseg/"
KEY_ENGINE = PREFIX + "engine"
KEY_LIMIT = PREFIX + "max_area_km2"
KEY_RESULTS = PREFIX + "results_dir"
KEY_DEVICES = PREFIX + "devices_found"
KEY_AUTO_DEVICE = PREFIX + "auto_device"
KEY_THROUGHPUT = PREFIX + "throughput_mpx_s/"
DIALOG = PREFIX + "dialog/"
ADAPT_DIALOG = PREFIX + "adapt_dialog/"
KEY_ADAPTED = PREFIX + "adapted_models"
#: Folder (in the QGIS profile) that receives adapted models.
MODELS_SUBDIR = "roadseg/models"


def plugin_version() -> str:
    """Return the plugin's version from its metadata.txt (packaged) or the repository's."""
    for cand in (PLUGIN_DIR / "metadata.txt", PLUGIN_DIR.parent / "metadata.txt"):
        if cand.is_file():
            cp = configparser.ConfigParser(interpolation=None)
            cp.read(cand, encoding="utf-8")
            return cp.get("general", "version", fallback="0.0.0")
    return "0.0.0"


def homepage() -> str:
    """Return the plugin's home page (metadata.txt), where its help lives."""
    for cand in (PLUGIN_DIR / "metadata.txt", PLUGIN_DIR.parent / "metadata.txt"):
        if cand.is_file():
            cp = configparser.ConfigParser(interpolation=None)
            cp.read(cand, encoding="utf-8")
            return cp.get("general", "homepage", fallback="")
    return ""


def help_url() -> str:
    """Return the address of the plugin's help (the README's plugin section)."""
    return homepage().rstrip("/") + "#qgis-plugin"


def engine_setting() -> str:
    """Return the engine command saved by the user ("" = search)."""
    return str(QgsSettings().value(KEY_ENGINE, "", type=str) or "")


def set_engine_setting(command: str) -> None:
    """Save the engine command ("" = search)."""
    QgsSettings().setValue(KEY_ENGINE, command.strip())


def plugin_env_dir() -> Path:
    """The plugin's own engine environment (made by *Install engine*)."""
    return engine_venv_dir(QgsApplication.qgisSettingsDirPath())


def current_engine(configured: str | None = None) -> EngineCommand:
    """Resolve the engine command for this QGIS session (setting, variable, own env, PATH).

    Raises:
        EngineNotFoundError: with what to do.

    """
    return find_engine(
        configured=engine_setting() if configured is None else configured,
        plugin_env=plugin_env_dir(),
    )


def limit_km2() -> float:
    """Return the size limit in km² (0 = none)."""
    return float(QgsSettings().value(KEY_LIMIT, DEFAULT_LIMIT_KM2, type=float))


def set_limit_km2(value: float) -> None:
    """Save the size limit."""
    QgsSettings().setValue(KEY_LIMIT, float(value))


def results_dir() -> str:
    """Return the results folder the user chose for unsaved projects ("" = not chosen yet)."""
    return str(QgsSettings().value(KEY_RESULTS, "", type=str) or "")


def set_results_dir(folder: str) -> None:
    """Remember the results folder for unsaved projects."""
    QgsSettings().setValue(KEY_RESULTS, folder)


def project_home() -> str:
    """Return the folder of the current project when it is saved ("" otherwise)."""
    project = QgsProject.instance()
    return project.homePath() if project.fileName() else ""


def devices_found() -> list[str]:
    """Devices besides the CPU that the engine used on this machine (``cuda``, ``mps``)."""
    value = QgsSettings().value(KEY_DEVICES, [], type=list) or []
    return [d for d in value if d in DEVICES and d not in ("auto", "cpu")]


def set_devices_found(families: list[str]) -> None:
    """Remember exactly these devices besides the CPU (the engine's own list, from Test engine)."""
    keep = [f for f in dict.fromkeys(families) if f in DEVICES and f not in ("auto", "cpu")]
    QgsSettings().setValue(KEY_DEVICES, keep)


def record_device(device: str, auto: bool) -> None:
    """Remember a device the engine reported using (``cuda:0`` counts as ``cuda``).

    Args:
        device: The engine's ``device`` field.
        auto: Whether the run asked for ``auto`` (then ``device`` is what auto reaches).

    """
    family = device.split(":", 1)[0]
    if family not in DEVICES:
        return
    if auto:
        QgsSettings().setValue(KEY_AUTO_DEVICE, family)
    if family not in ("auto", "cpu"):
        found = devices_found()
        if family not in found:
            QgsSettings().setValue(KEY_DEVICES, [*found, family])


def auto_device() -> str:
    """Return the device ``auto`` reached last time ("" when no run told yet)."""
    value = str(QgsSettings().value(KEY_AUTO_DEVICE, "", type=str) or "")
    return value if value in DEVICES else ""


def throughput(device: str) -> float | None:
    """Prediction speed measured on this machine (Mpx/s), if any."""
    value = QgsSettings().value(KEY_THROUGHPUT + device, 0.0, type=float)
    return float(value) if value and value > 0 else None


def set_throughput(device: str, mpx_s: float) -> None:
    """Remember the speed of the last run on ``device``."""
    QgsSettings().setValue(KEY_THROUGHPUT + device, float(mpx_s))


def dialog_value(key: str, default: Any) -> Any:
    """Return a remembered choice of the Map roads dialog (typed like ``default``)."""
    return QgsSettings().value(DIALOG + key, default, type=type(default))


def set_dialog_values(values: dict[str, Any]) -> None:
    """Remember the Map roads dialog's choices."""
    s = QgsSettings()
    for key, value in values.items():
        s.setValue(DIALOG + key, value)


def remembered_model() -> str:
    """The model the dialog used last (``default``, an embedded name, or a model file)."""
    choice = str(dialog_value("model", "default") or "default")
    if choice == "__file__":
        return str(dialog_value("model_file", "") or "") or "default"
    return choice


def adapt_value(key: str, default: Any) -> Any:
    """Return a remembered choice of the Adapt dialog (typed like ``default``)."""
    return QgsSettings().value(ADAPT_DIALOG + key, default, type=type(default))


def set_adapt_values(values: dict[str, Any]) -> None:
    """Remember the Adapt dialog's choices."""
    s = QgsSettings()
    for key, value in values.items():
        s.setValue(ADAPT_DIALOG + key, value)


def models_dir() -> Path:
    """The folder of adapted models in the QGIS profile (made when needed)."""
    return Path(QgsApplication.qgisSettingsDirPath()) / MODELS_SUBDIR


def adapted_models() -> list[AdaptedModel]:
    """The adapted models the Map roads dialog lists (kept across QGIS restarts)."""
    return models_from_text(str(QgsSettings().value(KEY_ADAPTED, "", type=str) or ""))


def add_adapted_model(entry: AdaptedModel) -> None:
    """List a new adapted model (one of the same name or file is replaced)."""
    QgsSettings().setValue(KEY_ADAPTED, models_to_text(replace_entry(adapted_models(), entry)))


def remove_adapted_model(path: str) -> AdaptedModel | None:
    """Take a model off the list; its file is deleted when it lies in :func:`models_dir`.

    Returns:
        The removed entry (None when it was not listed).

    """
    models = adapted_models()
    gone = next((m for m in models if m.path == path), None)
    QgsSettings().setValue(KEY_ADAPTED, models_to_text([m for m in models if m.path != path]))
    file = Path(path)
    if gone is not None and file.parent.resolve() == models_dir().resolve():
        file.unlink(missing_ok=True)
    return gone
