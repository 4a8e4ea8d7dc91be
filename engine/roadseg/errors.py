"""One exception root for the engine, with builtin mix-ins.

Every error a user can cause is a :class:`RoadsegError`; its message is one line
that names the file or option at fault and says how to fix it. The CLI prints
that line (no traceback unless ``-v``) and exits non-zero; the plugin shows it in
the message bar.
"""

from __future__ import annotations


class RoadsegError(Exception):
    """Root of every error the engine raises on purpose."""

    #: Exit status the CLI uses for this kind of error.
    exit_code: int = 1


class InputNotFoundError(RoadsegError, FileNotFoundError):
    """An input file or folder does not exist."""


class RasterReadError(RoadsegError, OSError):
    """A raster cannot be opened or read (not a raster, corrupt, unsupported)."""


class CRSError(RoadsegError, ValueError):
    """A raster or vector has no CRS, or an incompatible one."""


class LabelError(RoadsegError, ValueError):
    """Labels cannot be used: outside the raster, missing field, unknown values."""


class OutputError(RoadsegError, OSError):
    """An output cannot be written (folder missing or read-only, disk full)."""


class ConfigError(RoadsegError, ValueError):
    """An option or configuration value is invalid."""


class ModelFileError(RoadsegError, ValueError):
    """A model file cannot be loaded (corrupt, wrong format, newer engine)."""


class DataError(RoadsegError, ValueError):
    """Training or evaluation data is unusable (empty, mismatched, too small)."""


class CancelledError(RoadsegError):
    """The user cancelled the operation through the cancel callback."""

    exit_code = 130


def describe_path(path: object) -> str:
    """Return a path as it should appear in a message.

    >>> describe_path("a b.tif")
    "'a b.tif'"
    """
    return repr(str(path))


class TrainingDivergedError(RoadsegError, FloatingPointError):
    """The training loss (or the weights) became NaN or infinite."""


class RoadsegWarning(UserWarning):
    """A problem the engine works around but the user should fix (the CLI prints ``Warning: ...``)."""


#: Logger of :func:`warn`'s messages (the CLI prints the warning itself and silences this one).
WARNING_LOGGER = "roadseg.warnings"


def warn(message: str, stacklevel: int = 2) -> None:
    """Issue a :class:`RoadsegWarning` and log it on :data:`WARNING_LOGGER`."""
    import logging
    import warnings

    warnings.warn(message, RoadsegWarning, stacklevel=stacklevel + 1)
    logging.getLogger(WARNING_LOGGER).warning(message)
