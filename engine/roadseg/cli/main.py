"""The ``roadseg`` command group and its error handling.

Every subcommand lives in its own module and calls the public engine API only.
A :class:`~roadseg.errors.RoadsegError` becomes one line on stderr (and a final
JSON error line on stdout under ``--json`` / ``--progress json``) with a non-zero
exit status; ``-v`` (before or after the subcommand) shows the traceback. Usage
errors are one line too (exit status 2), a full disk or a denied write is a user
error (1), and only a genuine bug exits with 3.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import click

from roadseg._version import __version__
from roadseg.cli.errors import current_labeler, render, use_command
from roadseg.errors import RoadsegError

#: Subcommand name → module in ``roadseg.cli`` defining a click command named ``cli``.
COMMANDS: dict[str, str] = {
    "info": "info",
    "synth": "synth",
    "train": "train",
    "adapt": "adapt",
    "predict": "predict",
    "check-fit": "check_fit",
    "vectorize": "vectorize",
    "evaluate": "evaluate",
    "models": "models",
    "devices": "devices",
}

EXIT_INTERNAL = 3
EXIT_USAGE = 2


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when it runs (fast ``--help``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Commands in a stable order, only those whose module exists."""
        return [n for n in COMMANDS if _module_exists(COMMANDS[n])]

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Remember the arguments (the error handler looks for --json / --progress json)."""
        ctx.meta["roadseg.argv"] = list(args)
        return super().parse_args(ctx, args)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Find the subcommand; its parameters name the engine's parameters in messages."""
        name, cmd, rest = super().resolve_command(ctx, args)
        use_command(cmd)
        return name, cmd, rest

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """Import ``roadseg.cli.<module>`` and return its ``cli`` (with ``-v`` added)."""
        if name not in COMMANDS or not _module_exists(COMMANDS[name]):
            return None
        mod = importlib.import_module(f"roadseg.cli.{COMMANDS[name]}")
        command: click.Command = mod.cli
        _add_verbose(command)
        return command

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the CLI; usage errors become one line (and a JSON error line when asked)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            _usage_failure(exc)
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            click.echo(f"Error: {_one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("Error: interrupted", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand, turning engine errors into one clear line."""
        try:
            return super().invoke(ctx)
        except RoadsegError as exc:
            _fail(ctx, exc, exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt as exc:
            _fail(ctx, _with_notes(KeyboardInterrupt("interrupted"), exc), 130)
        except MemoryError as exc:
            _fail(
                ctx,
                exc,
                1,
                hint="out of memory: lower the batch size, tile or block size, or free memory",
            )
        except Exception as exc:  # noqa: BLE001 - last resort: report, never hide
            user = user_error(exc)
            if user is not None:
                _fail(ctx, _with_notes(user, exc), user.exit_code)
            _fail(
                ctx,
                exc,
                EXIT_INTERNAL,
                hint="this is a bug in roadseg; rerun with -v and report it",
            )


def user_error(exc: BaseException) -> RoadsegError | None:
    """An error a user caused that escaped the engine's own checks, as a RoadsegError.

    A full disk or quota (in any library's words) and a file the system refused.

    >>> import errno
    >>> str(user_error(PermissionError(errno.EACCES, "Permission denied", "/ro/x.tif")))
    "cannot write or read '/ro/x.tif' (permission denied); choose a location you may write to"
    """
    from roadseg.errors import OutputError
    from roadseg.geo.atomic import disk_full_error, is_disk_full

    if is_disk_full(exc):
        where = getattr(exc, "filename", None) or "the output"
        return disk_full_error(where)
    if isinstance(exc, PermissionError):
        return OutputError(
            f"cannot write or read {exc.filename!r} (permission denied)"
            if exc.filename
            else "permission denied",
            hint="choose a location you may write to",
        )
    return None


def _with_notes(new: BaseException, old: BaseException) -> BaseException:
    for note in getattr(old, "__notes__", ()):
        new.add_note(note)
    return new


def _add_verbose(command: click.Command) -> None:
    """Let ``-v/--verbose`` follow the subcommand too (``roadseg info X -v``)."""
    if any(p.name == "verbose" for p in command.params):
        return
    command.params.append(
        click.Option(
            ["-v", "--verbose"],
            count=True,
            expose_value=False,
            is_eager=True,
            callback=_set_verbose,
            help="More logging; tracebacks on errors.",
        )
    )


def _set_verbose(ctx: click.Context, param: click.Parameter, value: int) -> None:
    if not value:
        return
    root = ctx.find_root()
    root.ensure_object(dict)
    level = max(int(root.obj.get("verbose") or 0), value)
    root.obj["verbose"] = level
    logging.getLogger().setLevel(logging.DEBUG if level > 1 else logging.INFO)


def _one_line(text: str) -> str:
    r"""Text on one line (newlines and runs of spaces become one space).

    >>> _one_line("a\n  b\n\nc ")
    'a b c'
    """
    return " ".join(text.split())


def _usage_failure(exc: click.UsageError) -> None:
    """Print a usage error as one line, with the command's help as the fix."""
    ctx = exc.ctx
    names = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    where = " ".join(["roadseg", *reversed(names)])
    msg = f"{_one_line(exc.format_message())} (see '{where} --help')"
    click.echo(f"Error: {msg}", err=True)
    if _wants_json(sys.argv[1:]):
        line: dict[str, Any] = {
            "type": "error",
            "error": type(exc).__name__,
            "message": msg,
            "exit_code": EXIT_USAGE,
        }
        param = getattr(exc, "param", None)
        if param is not None and param.name:
            line["param"] = param.name
            line["flag"] = (
                next((o for o in getattr(param, "opts", ()) if o.startswith("--")), None)
                or param.human_readable_name
            )
        click.echo(json.dumps(line, default=str))


def _module_exists(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"roadseg.cli.{name}") is not None


def _wants_json(argv: list[str]) -> bool:
    """True when the command line asked for JSON output or JSON progress.

    >>> _wants_json(["predict", "a.tif", "--progress", "json"]), _wants_json(["info", "a.tif"])
    (True, False)
    """
    if "--json" in argv or "--progress=json" in argv:
        return True
    return any(a == "--progress" and b == "json" for a, b in zip(argv, argv[1:], strict=False))


def _fail(ctx: click.Context, exc: BaseException, code: int, hint: str = "") -> None:
    verbose = bool(ctx.obj and ctx.obj.get("verbose"))
    if verbose:
        traceback.print_exc()
    label = current_labeler()
    if isinstance(exc, RoadsegError):
        msg = exc.render(label)
    else:
        msg = (str(exc).strip().splitlines() or [""])[0] or type(exc).__name__
    if hint:
        msg = f"{type(exc).__name__}: {msg} ({hint})"
    notes = [n for n in getattr(exc, "__notes__", ()) if n and n not in msg]
    if notes:
        msg = f"{msg}; {'; '.join(notes)}"
    msg = _one_line(msg)
    click.echo(f"Error: {msg}", err=True)
    argv = ctx.meta.get("roadseg.argv", sys.argv[1:])
    if _wants_json(argv):
        line: dict[str, Any] = {
            "type": "error",
            "error": type(exc).__name__,
            "message": msg,
            "exit_code": code,
        }
        if isinstance(exc, RoadsegError) and exc.param:
            # Additions to the contract: the Python parameter at fault (the plugin maps it to
            # its dialog field) and the flag it was given with.
            line["param"] = exc.param
            line["flag"] = label(exc.param)
        click.echo(json.dumps(line, default=str))
    ctx.exit(code)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="roadseg")
@click.option("-v", "--verbose", count=True, help="More logging; tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Map roads from aerial and satellite imagery."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    ctx.obj["quiet"] = quiet
    level = (
        logging.WARNING
        if quiet
        else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    _show_roadseg_warnings(quiet)


def _show_roadseg_warnings(quiet: bool) -> None:
    """Print each :class:`~roadseg.errors.RoadsegWarning` as one ``Warning: ...`` line on stderr.

    The engine also logs them (for API users); the CLI prints the warning only once.
    """
    import warnings

    from roadseg.errors import WARNING_LOGGER, RoadsegWarning

    _WARN_STATE["quiet"] = quiet
    lg = logging.getLogger(WARNING_LOGGER)
    lg.propagate = False
    if not lg.handlers:
        lg.addHandler(logging.NullHandler())
    previous = warnings.showwarning
    if getattr(previous, "_roadseg", False):  # already installed (several runs in one process)
        return

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, RoadsegWarning):
            if not _WARN_STATE["quiet"]:
                text = render(message) if isinstance(message, RoadsegWarning) else str(message)
                click.echo(f"Warning: {text}", err=True)
            return
        previous(message, category, *args, **kwargs)

    show._roadseg = True  # type: ignore[attr-defined]
    warnings.showwarning = show
    warnings.filterwarnings("always", category=RoadsegWarning)


_WARN_STATE: dict[str, bool] = {"quiet": False}


def main() -> None:
    """Console-script entry point."""
    cli(obj={})


if __name__ == "__main__":
    main()
