"""The ``roadseg`` command group and its error handling.

Every subcommand lives in its own module and calls the public engine API only.
A :class:`~roadseg.errors.RoadsegError` becomes one line on stderr (and a final
JSON error line on stdout under ``--json`` / ``--progress json``) with a non-zero
exit status; ``-v`` shows the traceback.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import traceback
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
    "vectorize": "vectorize",
    "evaluate": "evaluate",
    "models": "models",
    "devices": "devices",
}

EXIT_INTERNAL = 3


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when it runs (fast ``--help``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Commands in a stable order, only those whose module exists."""
        return [n for n in COMMANDS if _module_exists(COMMANDS[n])]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """Import ``roadseg.cli.<module>`` and return its ``cli``."""
        if name not in COMMANDS or not _module_exists(COMMANDS[name]):
            return None
        mod = importlib.import_module(f"roadseg.cli.{COMMANDS[name]}")
        command: click.Command = mod.cli
        return command

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

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand, turning engine errors into one clear line."""
        try:
            return super().invoke(ctx)
        except RoadsegError as exc:
            _fail(ctx, exc, exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            _fail(ctx, KeyboardInterrupt("interrupted; no output was written"), 130)
        except MemoryError as exc:
            _fail(ctx, exc, EXIT_INTERNAL, hint="out of memory: lower --batch-size or --tile")
        except Exception as exc:  # noqa: BLE001 - last resort: report, never hide
            _fail(
                ctx,
                exc,
                EXIT_INTERNAL,
                hint="this is a bug in roadseg; rerun with -v and report it",
            )


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
        msg = str(exc) or type(exc).__name__
    if hint:
        msg = f"{type(exc).__name__}: {msg} ({hint})"
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
