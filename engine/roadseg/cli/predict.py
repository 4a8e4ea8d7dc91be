"""``roadseg predict RASTER… --out OUT``: class rasters (probabilities, vectors) from imagery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from roadseg.cli.imagery import imagery_arguments, imagery_options
from roadseg.cli.options import (
    ProgressRenderer,
    interrupt_as_cancel,
    json_option,
    overwrite_option,
    progress_option,
    warn_or_emit,
)
from roadseg.cli.paths import RASTER_PATH


@click.command("predict")
@click.argument("rasters", nargs=-1, required=True, type=RASTER_PATH)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Class raster (one input) or folder (<stem>_roads.tif per input).",
)
@click.option(
    "--probabilities",
    is_flag=True,
    help="Also write per-class probabilities (uint8 0-255) as OUT_proba.tif.",
)
@click.option("--cog", is_flag=True, help="Write Cloud-Optimised GeoTIFFs.")
@imagery_options
@click.option(
    "--vectorize",
    "vectorize",
    type=click.Path(path_type=Path),
    default=None,
    metavar="OUT.gpkg",
    help="Also vectorise into road polygons and centrelines.",
)
@click.option(
    "--block-size",
    type=int,
    default=None,
    metavar="N",
    help="Predict in blocks of N x N pixels (multiple of 256), resumably: --out is a folder "
    "of per-block COGs, a VRT of each raster and a manifest; rerun to finish an interrupted run.",
)
@click.option(
    "--cluster",
    default=None,
    metavar="local|auto|ray://HOST:PORT|HOST:PORT",
    help="Predict the blocks on a Ray cluster: local (started on this machine), auto (the "
    "cluster this machine is in), ray://HOST:PORT (Ray Client) or HOST:PORT (the head's "
    "address). Needs `pip install roadseg[ray]`.",
)
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Blocks predicted at once with --cluster (default: one per GPU, else one per machine).",
)
@click.option("--merge", is_flag=True, help="With blocks: also write one COG of each raster.")
@overwrite_option
@json_option
@progress_option
def cli(
    rasters: tuple[str, ...],
    out: Path,
    probabilities: bool,
    cog: bool,
    vectorize: Path | None,
    block_size: int | None,
    cluster: str | None,
    workers: int | None,
    merge: bool,
    overwrite: bool,
    as_json: bool,
    progress: str,
    **imagery: Any,
) -> None:
    """Map roads in RASTER(s) with a model: a class raster per input.

    RASTER is any raster GDAL reads: a file, /vsizip/..., /vsicurl/..., an
    http(s):// URL or zip://ARCHIVE!/FILE, or a quoted glob ('tiles/*.tif'). Outputs are
    on each input's CRS and grid (cropped to --bbox/--extent-file) and committed together
    at the end: Ctrl-C or a failure leaves no partial file and every existing output as it
    was. With --block-size or --cluster the work is cut into blocks and resumable (see
    --help of each); --overwrite then starts afresh instead of refusing another run's blocks.
    """
    from roadseg.prediction import predict

    with ProgressRenderer(progress) as renderer, interrupt_as_cancel() as cancel:
        result = predict(
            list(rasters),
            out=out,
            probabilities=probabilities,
            cog=cog,
            vectorize=vectorize,
            block_size=block_size,
            cluster=cluster,
            workers=workers,
            merge=merge,
            overwrite=overwrite,
            progress=renderer,
            cancel=cancel,
            **imagery_arguments(imagery),
        )
    if warn_or_emit(result, as_json):
        return
    d = result.as_dict()
    m = d["metrics"]
    for item in result.items:
        click.echo(f"{item.raster} -> {item.classes}")
        if item.probabilities:
            click.echo(f"  probabilities {item.probabilities}")
        if item.vectors:
            click.echo(f"  vectors       {item.vectors}")
        if item.confidence is not None:
            click.echo(f"  confidence    {item.confidence.text()}")
    click.echo(
        f"{m['megapixels']:.2f} MP in {m['seconds']:.1f} s ({m['mp_per_s'] or 0:.2f} MP/s) "
        f"with {result.model} on {result.device} {result.precision}"
    )
    if result.blocks is not None:
        b = result.blocks
        click.echo(
            f"{b['run']} of {b['total']} block(s) predicted ({b['skipped']} done before), "
            f"{b['executor']}; manifest {b['manifest']}"
        )
