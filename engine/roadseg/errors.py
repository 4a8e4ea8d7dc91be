"""One exception root for the engine, with builtin mix-ins and structured fields.

Every error a user can cause is a :class:`RoadsegError`; its message is one line
that names the file or parameter at fault and says how to fix it. The engine
speaks Python: a parameter is named by its Python name written between
backticks in the message (```batch_size```), and the error carries it as
``param`` with the ``value`` given and a ``hint`` (the fix). Each front end
renders the names its own way (:meth:`RoadsegError.render`): Python users read
``batch_size``, the CLI maps it to the flag from click's own parameter
list (:mod:`roadseg.cli.errors`), the QGIS plugin to its dialog field.

>>> e = ConfigError("`tile` 100 must be a multiple of 32", param="tile", value=100,
...                 hint="try `tile` 96 or 128")
>>> str(e)
'tile 100 must be a multiple of 32; try tile 96 or 128'
>>> e.render(lambda name: name.upper())
'TILE 100 must be a multiple of 32; try TILE 96 or 128'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: A parameter reference inside a message: a Python name (dotted for config keys) in backticks.
PARAM_REF = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)`")

#: Renders a parameter name for a reader (None: leave the reference as it is).
Labeler = Callable[[str], "str | None"]


def python_label(name: str) -> str:
    """A parameter as the Python API names it (the name itself).

    >>> python_label("data.tile")
    'data.tile'
    """
    return name


class RoadsegError(Exception):
    """Root of every error the engine raises on purpose.

    Args:
        message: What is wrong, one line; parameters referenced as ```name```.
        param: The Python parameter (or dotted config key) at fault, if one is.
        value: The value it was given.
        hint: How to fix it (appended after ``"; "``); may reference parameters too.

    Attributes:
        exit_code: Exit status the CLI uses for this kind of error.

    """

    exit_code: int = 1

    def __init__(
        self, message: str = "", *, param: str | None = None, value: Any = None, hint: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.value = value
        self.hint = hint

    def render(self, label: Labeler = python_label) -> str:
        """The message with every parameter reference rendered by ``label``.

        When ``param`` is set but the message does not mention it, it leads:
        ``"out: cannot create the folder ..."``.
        """
        text = self.message
        if self.hint:
            text = f"{text}; {self.hint}" if text else self.hint
        if self.param and f"`{self.param}`" not in text:
            text = f"`{self.param}`: {text}"

        def sub(m: re.Match[str]) -> str:
            out = label(m.group(1))
            return m.group(0) if out is None else out

        return PARAM_REF.sub(sub, text)

    def __str__(self) -> str:
        return self.render()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the fields (errors cross process boundaries in DataLoader workers)."""
        return (_rebuild, (type(self), self.message, self.param, self.value, self.hint))


def _rebuild(cls: type[RoadsegError], message: str, param: Any, value: Any, hint: str) -> Any:
    return cls(message, param=param, value=value, hint=hint)


@contextmanager
def about(param: str) -> Iterator[None]:
    """Attribute the errors raised inside (those naming no parameter) to ``param``.

    Lower layers (file writing, raster reading) do not know which parameter a path
    came from; the public function that does wraps the call.

    >>> try:
    ...     with about("out"):
    ...         raise OutputError("the folder 'x' is read-only")
    ... except OutputError as exc:
    ...     print(exc)
    out: the folder 'x' is read-only
    """
    try:
        yield
    except RoadsegError as exc:
        if exc.param is None:
            exc.param = param
        raise


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


class TrainingDivergedError(RoadsegError, FloatingPointError):
    """The training loss (or the weights) became NaN or infinite."""


class RoadsegWarning(UserWarning):
    """A problem the engine works around but the user should fix (the CLI prints ``Warning: ...``).

    Args:
        template: The text, parameters referenced as ```name``` like in
            :class:`RoadsegError`; ``str()`` gives it with Python names and the CLI
            renders it with flags (:meth:`render`).

    """

    def __init__(self, template: str = "") -> None:
        super().__init__(PARAM_REF.sub(r"\1", template))
        self.template = template

    def render(self, label: Labeler = python_label) -> str:
        """The text with every parameter reference rendered by ``label``."""
        return PARAM_REF.sub(lambda m: label(m.group(1)) or m.group(0), self.template)


#: Logger of :func:`warn`'s messages (the CLI prints the warning itself and silences this one).
WARNING_LOGGER = "roadseg.warnings"


def log_warning(w: RoadsegWarning) -> None:
    """Log a warning the engine returns rather than raises (the CLI prints it itself, once)."""
    import logging

    logging.getLogger(WARNING_LOGGER).warning(str(w))


def warn(message: str, stacklevel: int = 2) -> None:
    """Issue a :class:`RoadsegWarning` and log it on :data:`WARNING_LOGGER`."""
    import logging
    import warnings

    w = RoadsegWarning(message)
    warnings.warn(w, stacklevel=stacklevel + 1)
    logging.getLogger(WARNING_LOGGER).warning(str(w))
