"""``roadseg adapt``: fine-tune a model to an area from roads you already have, in minutes.

Examples::

    roadseg adapt area.tif --labels osm_roads.gpkg --area checked.gpkg --minutes 5
        --out mine.safetensors
    roadseg adapt --dataset DIR --gsd 1.0 --mask-values "0=background,1=road,255=ignore"
        --out mine.safetensors
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import click

from roadseg.cli.options import (
    ProgressRenderer,
    emit_json,
    json_option,
    overwrite_option,
    progress_option,
)


def _f(v: float | None) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.3f}"


@click.command("adapt")
@click.argument("rasters", nargs=-1, type=click.Path(path_type=Path), metavar="RASTER...")
@click.option(
    "--labels",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="ROADS",
    help="Road lines/polygons (any CRS; OSM highway, or the class field of a roadseg "
    "centreline layer) or a mask; one for all rasters or one per raster.",
)
@click.option(
    "--area",
    type=click.Path(path_type=Path),
    metavar="POLYGONS",
    help="Where the labels are complete (outside: ignored). Default: the labels' convex hull.",
)
@click.option(
    "--dataset",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Plain image/mask pairs (images/ + masks/, DeepGlobe) instead of RASTER... --labels.",
)
@click.option("--gsd", type=float, metavar="M", help="Pixel size in metres of plain images.")
@click.option("--class-field", metavar="F", help="Attribute holding the road class.")
@click.option("--class-map", metavar="MAP", help="Values of --class-field: 'a=major,b=minor'.")
@click.option("--mask-colors", metavar="MAP", help="Colour-coded masks: '110,193,228=road'.")
@click.option("--mask-values", metavar="MAP", help="Index masks: '0=background,1=road,255=ignore'.")
@click.option("--mask-threshold", type=float, metavar="T", help="Soft masks: values >= T are road.")
@click.option(
    "--model",
    default="default",
    show_default=True,
    metavar="default|FILE",
    help="The model to start from.",
)
@click.option(
    "--minutes",
    type=float,
    default=None,
    metavar="N",
    help="Time budget of the whole run [default: 5].",
)
@click.option(
    "--steps",
    type=int,
    default=None,
    metavar="N",
    help="A fixed number of training steps instead of a time budget (reproducible).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    metavar="MODEL.safetensors",
    help="The model file to write (the adapted model, or the starting one if not better).",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option(
    "--threads",
    type=int,
    default=None,
    help="CPU threads [default: measured: all cores or one, whichever runs faster].",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--min-gain",
    type=float,
    default=0.005,
    show_default=True,
    help="Hold-out road IoU the adapted model must gain to be kept.",
)
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Keep the rasterised labels, crops and run logs here (a new or empty folder).",
)
@overwrite_option
@progress_option
@json_option
def cli(
    rasters: tuple[Path, ...],
    labels: tuple[Path, ...],
    progress: str,
    as_json: bool,
    **opts: Any,
) -> None:
    """Fine-tune a road model to your area from roads you already have, in minutes."""
    from roadseg.adaptation.api import adapt

    if progress == "bar" and not sys.stderr.isatty():
        progress = "none"
    with ProgressRenderer(progress) as renderer:
        res = adapt(list(rasters), list(labels), progress=renderer, **opts)
    if as_json:
        emit_json(res.as_json())
        return
    p = res.parent
    s = res.settings
    h = res.holdout
    click.echo(f"start    {p['model']} ({p['arch']} / {p['encoder']}, {p['gsd_m']} m)")
    click.echo(
        f"hold-out {h['blocks']} blocks: {100 * h['labelled_share']:.0f} % of the labelled area, "
        f"{100 * h['road_share']:.0f} % of its road"
    )
    freeze = (
        f", encoder frozen for the first {100 * s['freeze_share']:.0f} %"
        if s["freeze_share"]
        else ""
    )
    precision = f", {s['precision']}" if s.get("precision") else ""
    click.echo(
        f"trained  {res.steps} steps in {res.train_minutes:.1f} min (batch {s['batch_size']}, "
        f"lr {s['lr']:g}{precision}{freeze}; {res.minutes:.1f} min in all)"
    )
    sign = "+" if res.after >= res.before else ""
    click.echo(
        f"road IoU {_f(res.before)} -> {_f(res.after)} ({sign}{_f(res.after - res.before)}) "
        "on the hold-out"
    )
    fit = res.before_best
    if math.isfinite(fit) and math.isfinite(res.before) and fit >= res.before + 0.0005:
        # The adapted model's threshold was chosen on the hold-out: the start's best there is its bar.
        click.echo(
            f"         the starting model reaches {_f(fit)} on the hold-out at its best threshold "
            f"({res.before_best_threshold:g}); the adapted one must beat that too"
        )
    if res.improved:
        click.echo(f"model    {res.model_path} (adapted)")
    elif res.kept == "threshold":
        click.echo(
            f"model    {res.model_path}: the starting model with its road threshold chosen on the "
            f"hold-out ({res.before_best_threshold:g}): {_f(res.before)} -> {_f(res.written)}; the "
            f"fine-tuned one was not better than that by at least {s['min_gain']:g}"
        )
    else:
        click.echo(
            f"model    {res.model_path}: the STARTING model, unchanged: the adapted one was not "
            f"better on the hold-out by at least {s['min_gain']:g}"
        )
    if res.work_dir:
        click.echo(f"work     {res.work_dir} (labels_*.tif, run/)")
