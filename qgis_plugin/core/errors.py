"""Typed plugin errors that carry the message bar level they are shown with."""

from __future__ import annotations

from typing import Literal

Level = Literal["info", "warning", "critical", "success"]


class PluginError(Exception):
    """Root of the errors the plugin shows to the user.

    Args:
        message: One line for the message bar: what is wrong and how to fix it.
        details: Longer text (engine log, command line) for the log panel.
        level: Message bar level; each subclass has a sensible default.

    """

    level: Level = "warning"

    def __init__(self, message: str, *, details: str = "", level: Level | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if level is not None:
            self.level = level


class InputError(PluginError):
    """Something the user chose cannot be used (layer, area, folder, option)."""


class EngineNotFoundError(PluginError):
    """No ``roadseg`` engine command could be found or started."""

    level: Level = "critical"


class EngineFailedError(PluginError):
    """The engine ran and reported an error (non-zero exit status)."""

    level: Level = "critical"


class RunCancelledError(PluginError):
    """The user cancelled a run; nothing was added or kept."""

    level: Level = "info"
