"""``roadseg check-fit RASTER…``: how sure the model is of the imagery, from a few samples."""

from __future__ import annotations

from typing import Any

import click

from roadseg.cli.imagery import imagery_arguments, imagery_options
from roadseg.cli.options import (
    ProgressRenderer,
    interrupt_as_cancel,
    json_option,
    progress_option,
    warn_or_emit,
)
from roadseg.cli.paths import RASTER_PATH


@click.command("check-fit")
@click.argument("rasters", nargs=-1, required=True, type=RASTER_PATH)
@click.option(
    "--samples",
    type=int,
    default=8,
    show_default=True,
    help="Windows predicted per raster, spread evenly over it (1-64).",
)
@click.option(
    "--sample-m",
    "sample_m",
    type=float,
    default=256.0,
    show_default=True,
    metavar="METRES",
    help="Side of each window in metres (32-4096).",
)
@imagery_options
@json_option
@progress_option
def cli(
    rasters: tuple[str, ...],
    samples: int,
    sample_m: float,
    as_json: bool,
    progress: str,
    **imagery: Any,
) -> None:
    """Rate how sure a model is of RASTER(s), before a long prediction: good, fair or poor.

    Predicts a few windows (--samples squares of --sample-m metres, spread over the raster
    or over --bbox/--extent-file) exactly as `roadseg predict` would with the same options,
    and reports the share of road-like pixels the model is unsure of (the figure `predict`
    prints as its confidence). Writes nothing. Poor means: expect missed and false roads;
    adapt the model to a few of your roads first (`roadseg adapt`).
    """
    from roadseg.prediction.fit import check_fit

    with ProgressRenderer(progress) as renderer, interrupt_as_cancel() as cancel:
        result = check_fit(
            list(rasters),
            samples=samples,
            sample_m=sample_m,
            progress=renderer,
            cancel=cancel,
            **imagery_arguments(imagery),
        )
    if warn_or_emit(result, as_json):
        return
    for item in result.items:
        where = (
            "the whole area"
            if item.whole
            else f"{item.samples} windows of {sample_m:g} m "
            f"({item.sampled_km2:.2f} of {item.area_km2:.2f} km²)"
        )
        click.echo(f"{item.raster}")
        click.echo(f"  confidence  {item.confidence.text()}")
        click.echo(f"  sampled     {where} in {item.seconds:.1f} s")
    click.echo(f"with {result.model} on {result.device} {result.precision}")
