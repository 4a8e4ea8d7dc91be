"""roadseg for QGIS: map roads from aerial imagery with the roadseg engine.

The plugin imports only PyQt5, qgis and the standard library; it runs the engine
(`roadseg`, installed in its own Python environment) as a subprocess.
"""

from __future__ import annotations

from typing import Any


def classFactory(iface: Any) -> Any:  # noqa: N802 - QGIS entry point name
    """Create the plugin (called by QGIS on load)."""
    from .plugin import RoadsegPlugin

    return RoadsegPlugin(iface)
