"""``roadseg devices``: the devices this engine can run on and the precision each would use."""

from __future__ import annotations

from typing import Any

import click

from roadseg.cli.options import emit_json, json_option


def _text(devices: list[dict[str, Any]]) -> str:
    """One line per device, the one ``--device auto`` picks marked.

    >>> print(_text([{"name": "cpu", "label": "CPU (X, 2 cores)", "precision": "fp32",
    ...               "channels_last": True, "reason": "r", "auto": True}]))
    cpu     CPU (X, 2 cores)  fp32 channels_last (r)  ← auto
    """
    lines = []
    for d in devices:
        fmt = " channels_last" if d["channels_last"] else ""
        mark = "  ← auto" if d["auto"] else ""
        lines.append(f"{d['name']:<7} {d['label']}  {d['precision']}{fmt} ({d['reason']}){mark}")
    return "\n".join(lines)


@click.command("devices")
@json_option
def cli(as_json: bool) -> None:
    """List the devices this engine can run on, their precision, and which one `auto` picks."""
    from roadseg.device import list_devices

    devices = list_devices()
    if as_json:
        auto = next(d["name"] for d in devices if d["auto"])
        emit_json({"devices": devices, "auto": auto, "count": len(devices)})
        return
    click.echo(_text(devices))
