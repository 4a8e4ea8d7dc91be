"""Engine errors in CLI words: Python parameter names → the command's own flags.

The engine names parameters by their Python names (``batch_size``, or dotted
training config keys such as ``data.tile``); :func:`flag_labeler` maps each to
the flag click declared for it (``--batch-size``, ``--tile``), a positional
argument to its metavar (``RASTERS``), and a training config key without a flag
of its own to ``--set KEY=…``.
"""

from __future__ import annotations

import click

from roadseg.errors import Labeler, RoadsegError, RoadsegWarning


def flag_labeler(command: click.Command | None) -> Labeler:
    """Return a function naming a Python parameter the way ``command`` spells it.

    >>> @click.command()
    ... @click.argument("rasters", nargs=-1)
    ... @click.option("--batch-size", type=int)
    ... @click.option("--tile", "data__tile", type=int)
    ... @click.option("--set", "set_items", multiple=True)
    ... def cmd(rasters, batch_size, data__tile, set_items): ...
    >>> label = flag_labeler(cmd)
    >>> label("batch_size"), label("data.tile"), label("tile"), label("augment.hue")
    ('--batch-size', '--tile', '--tile', '--set augment.hue=…')
    >>> label("rasters"), label("nothing") is None
    ('RASTERS', True)
    """
    names: dict[str, str] = {}
    has_set = False
    for p in command.params if command is not None else ():
        if p.name is None:
            continue
        if isinstance(p, click.Option):
            longs = [o for o in p.opts if o.startswith("--")] or list(p.opts)
            names[p.name] = longs[0]
            has_set = has_set or p.name == "set_items"
        else:
            names[p.name] = p.human_readable_name

    def label(name: str) -> str | None:
        for key in (name, name.replace(".", "__")):
            if key in names:
                return names[key]
        short = name.rpartition(".")[2]
        if "." in name and short in names:  # e.g. model.binary → --binary/--multiclass
            return names[short]
        owners = [k for k in names if k.endswith(f"__{name}")]  # class_field → data__class_field
        if len(owners) == 1:
            return names[owners[0]]
        if has_set and "." in name:
            return f"--set {name}=…"
        return None

    return label


#: How the running subcommand names engine parameters (set when the group resolves it).
_CURRENT: dict[str, Labeler] = {}


def use_command(command: click.Command | None) -> None:
    """Name engine parameters as ``command`` does from now on (called by the group)."""
    _CURRENT["label"] = flag_labeler(command)


def current_labeler() -> Labeler:
    """The labeler of the running subcommand (Python names before one runs)."""
    return _CURRENT.get("label") or flag_labeler(None)


def render(problem: RoadsegError | RoadsegWarning) -> str:
    """An engine error or warning in the running subcommand's words."""
    return problem.render(current_labeler())
