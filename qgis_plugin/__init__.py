"""roadseg for QGIS: map roads from aerial imagery with the roadseg engine.

The plugin imports only PyQt, qgis (with GDAL's ``osgeo``) and the standard
library; it runs the engine (`roadseg`, installed in its own Python environment)
as a subprocess.
"""

from __future__ import annotations

from typing import Any

_TRANSLATOR: Any = None


def load_translation(folder: Any, locale: str) -> Any:
    """Return a QTranslator with ``folder/roadseg_<locale>.qm`` (or its language), else None."""
    from pathlib import Path

    from qgis.PyQt.QtCore import QTranslator

    for name in (locale, locale.split("_")[0]):
        qm = Path(folder) / f"roadseg_{name}.qm"
        if name and qm.is_file():
            translator = QTranslator()
            if translator.load(str(qm)):
                return translator
    return None


def install_translation() -> None:
    """Translate the plugin into the user's QGIS language when ``i18n/`` has it.

    Routes every text of the plugin through ``QCoreApplication.translate`` (see
    ``core/i18n.py``) and installs ``i18n/roadseg_<locale>.qm`` when there is one.
    """
    global _TRANSLATOR
    from pathlib import Path

    from qgis.core import QgsSettings
    from qgis.PyQt.QtCore import QCoreApplication, QLocale

    from .core.i18n import set_translator

    set_translator(lambda context, text: QCoreApplication.translate(context, text))
    if _TRANSLATOR is not None:
        return
    locale = str(QgsSettings().value("locale/userLocale", "", type=str) or QLocale().name())
    translator = load_translation(Path(__file__).resolve().parent / "i18n", locale)
    if translator is not None:
        QCoreApplication.installTranslator(translator)
        _TRANSLATOR = translator


def classFactory(iface: Any) -> Any:  # noqa: N802 - QGIS entry point name
    """Create the plugin (called by QGIS on load)."""
    install_translation()
    from .plugin import RoadsegPlugin

    return RoadsegPlugin(iface)
