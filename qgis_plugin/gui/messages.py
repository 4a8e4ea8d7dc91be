"""Message bar messages with action buttons ("Open folder", "Settings…")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qgis.core import Qgis, QgsMessageLog
from qgis.PyQt.QtCore import QUrl
from qgis.PyQt.QtGui import QDesktopServices
from qgis.PyQt.QtWidgets import QPushButton

LOG_TAG = "roadseg"
LEVELS = {
    "info": Qgis.MessageLevel.Info,
    "warning": Qgis.MessageLevel.Warning,
    "critical": Qgis.MessageLevel.Critical,
    "success": Qgis.MessageLevel.Success,
}
#: Seconds a message stays (0 = until closed); errors and results stay.
DURATIONS = {"info": 10, "warning": 0, "critical": 0, "success": 0}

Action = tuple[str, Callable[[], Any]]


def log(message: str, level: str = "info") -> None:
    """Write to the roadseg tab of the log panel."""
    QgsMessageLog.logMessage(message, LOG_TAG, LEVELS.get(level, Qgis.MessageLevel.Info), False)


def push(
    bar: Any,
    message: str,
    level: str = "info",
    details: str = "",
    actions: Sequence[Action] = (),
    title: str = "roadseg",
) -> Any:
    """Show ``message`` in ``bar`` with optional buttons; log it (with details) too.

    Returns:
        The message bar item when there are buttons (None otherwise).

    """
    qlevel = LEVELS.get(level, Qgis.MessageLevel.Info)
    log(f"{message}\n{details}" if details else message, level)
    duration = DURATIONS.get(level, 10)
    if not actions:
        if details:
            bar.pushMessage(title, message, details, qlevel, duration)
        else:
            bar.pushMessage(title, message, qlevel, duration)
        return None
    item = bar.createMessage(title, message)
    for text, callback in actions:
        button = QPushButton(text, item)
        button.clicked.connect(lambda _checked=False, cb=callback: cb())
        item.layout().addWidget(button)
    bar.pushWidget(item, qlevel, duration)
    return item


def open_folder(folder: str | Path) -> bool:
    """Open a folder in the system's file manager."""
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))))


def open_url(url: str) -> bool:
    """Open a web address in the browser."""
    return bool(QDesktopServices.openUrl(QUrl(url)))
