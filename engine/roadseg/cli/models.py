"""``roadseg models``: the embedded models, or one model file's metadata (``--info FILE``)."""

from __future__ import annotations

from typing import Any

import click

from roadseg.cli.options import emit_json, json_option

NO_EMBEDDED = (
    "no embedded model in this installation; build the default one with "
    "`python scripts/train_default_model.py`, or pass a model file with "
    "`roadseg predict --model FILE`"
)


def describe_model(name_or_path: str) -> dict[str, Any]:
    """Metadata of a model file (or embedded name) as the JSON the plugin reads."""
    from roadseg.models import read_meta, resolve_model_path

    meta = read_meta(name_or_path)
    return {
        "path": str(resolve_model_path(name_or_path)),
        **meta.summary(),
        "binary": meta.binary,
        "training": meta.training,
        "format_version": meta.format_version,
    }


@click.command("models")
@click.argument("model_file", required=False, metavar="[MODEL_FILE]")
@click.option(
    "--info",
    "info_file",
    default=None,
    metavar="MODEL_FILE",
    help="Show a model file's metadata (same as giving MODEL_FILE).",
)
@json_option
def cli(model_file: str | None, info_file: str | None, as_json: bool) -> None:
    """List the embedded models, or describe MODEL_FILE (classes, resolution, metrics)."""
    target = info_file or model_file
    if target:
        d = describe_model(target)
        if as_json:
            emit_json(d)
            return
        click.echo(_text(d))
        return
    from roadseg.models import list_embedded

    models = list_embedded()
    if as_json:
        emit_json(
            {"models": models, "count": len(models), "message": "" if models else NO_EMBEDDED}
        )
        return
    if not models:
        click.echo(NO_EMBEDDED)
        return
    for m in models:
        click.echo(f"{m['name']}: " + _text(m))


def _text(d: dict[str, Any]) -> str:
    classes = ", ".join(d["classes"])
    recorded = dict(d.get("metrics") or {})
    # The threshold the training run chose is shown on the road line, beside the one in use.
    validated = recorded.pop("road_threshold", None)
    chosen = (d.get("training") or {}).get("road_threshold_run", validated)
    scalars = {k: v for k, v in recorded.items() if isinstance(v, int | float | str)}
    tables = [k for k in recorded if k not in scalars]  # confusion matrix, histograms
    metrics = ", ".join(
        f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in scalars.items()
    )
    if tables:
        metrics += f"{'; ' if metrics else ''}{', '.join(tables)} in --json"
    threshold = d.get("road_threshold")
    road = "" if threshold is None else f"probability of the road classes >= {threshold:g}"
    if road and isinstance(chosen, int | float) and chosen != threshold:
        road += f" (its training run chose {chosen:g})"
    lines = [
        f"{d['path']}",
        f"  network     {d['arch']} / {d['encoder']}, {d['in_channels']} band(s)"
        + (f" (bands {d['bands']})" if d.get("bands") else ""),
        f"  classes     {classes}",
        f"  resolution  {d['gsd_m']} m/px, tile {d['tile_size']} px",
        *([f"  road        {road}"] if road else []),
        f"  metrics     {metrics or 'none recorded'}",
        f"  engine      roadseg {d.get('engine_version')}",
    ]
    return "\n".join(lines)
