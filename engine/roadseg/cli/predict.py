"""``roadseg predict RASTER… --out OUT``: class rasters (probabilities, vectors) from imagery."""

from __future__ import annotations

from pathlib import Path

import click

from roadseg.cli.errors import render
from roadseg.cli.options import (
    ProgressRenderer,
    emit_json,
    interrupt_as_cancel,
    json_option,
    overwrite_option,
    progress_option,
)
from roadseg.cli.paths import RASTER_PATH


def _bands(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        out = tuple(int(b) for b in value.replace(" ", "").split(",") if b)
    except ValueError:
        raise click.BadParameter(
            "give 1-based band numbers like 1,2,3", param_hint="--bands"
        ) from None
    if not out or min(out) < 1:
        raise click.BadParameter("give 1-based band numbers like 1,2,3", param_hint="--bands")
    return out


@click.command("predict")
@click.argument("rasters", nargs=-1, required=True, type=RASTER_PATH)
@click.option(
    "--model",
    "model",
    default="default",
    show_default=True,
    help="Model file (from `roadseg train`) or 'default' (the embedded model).",
)
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
@click.option(
    "--bbox",
    nargs=4,
    type=float,
    default=None,
    metavar="MINX MINY MAXX MAXY",
    help="Only predict this box (in --bbox-crs, default the raster's CRS).",
)
@click.option("--bbox-crs", default=None, metavar="CRS", help="CRS of --bbox, e.g. EPSG:4326.")
@click.option(
    "--extent-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Only predict inside these polygons (any CRS); outside is nodata.",
)
@click.option(
    "--bands",
    callback=_bands,
    default=None,
    metavar="1,2,3",
    help="Raster bands to feed the model (default: the model's).",
)
@click.option(
    "--scaling",
    default=None,
    metavar="auto|HIGH|LOW,HIGH",
    help="Raw value range mapped to [0, 1] (default: the model's).",
)
@click.option(
    "--gsd",
    type=float,
    default=None,
    metavar="METRES",
    help="Pixel size of a plain image without georeferencing (PNG/JPG).",
)
@click.option(
    "--working-gsd",
    type=float,
    default=None,
    metavar="METRES",
    help="Ground resolution the network runs at (default: the model's; 0.5-2x it). Finer "
    "(e.g. 0.4 for a 0.5 m model) can connect roads better at (model/working)^2 the compute; "
    "outputs stay on the raster's grid.",
)
@click.option(
    "--tile",
    type=int,
    default=None,
    help="Tile side in pixels at the working resolution (multiple of 32; default: the model's).",
)
@click.option(
    "--overlap", type=int, default=None, help="Overlap between tiles in pixels (default: tile/4)."
)
@click.option(
    "--batch-size",
    type=int,
    default=None,
    help="Tiles per network call (default 8 on GPU, 2 on CPU).",
)
@click.option("--tta", is_flag=True, help="Test-time augmentation: average over flips (4x slower).")
@click.option(
    "--road-threshold",
    type=float,
    default=None,
    metavar="P",
    help="Road where the road classes' probability together reaches P (0-1, exclusive; "
    "default: the model's, see `roadseg models`). Lower maps more road (fewer gaps, more "
    "false road), higher less.",
)
@click.option(
    "--detect-fill/--no-detect-fill",
    default=True,
    show_default=True,
    help="Treat large areas of pure black or pure white (undeclared no-data fill) as nodata "
    "when the raster declares no nodata, alpha or mask.",
)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    metavar="auto|cpu|cuda|cuda:N|mps",
    help="Where to run the network.",
)
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
    default="auto",
    show_default=True,
    help="Autocast precision (auto: where it pays).",
)
@click.option(
    "--threads", type=int, default=None, help="CPU threads for the network (default: torch's)."
)
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
    model: str,
    out: Path,
    probabilities: bool,
    cog: bool,
    bbox: tuple[float, float, float, float] | None,
    bbox_crs: str | None,
    extent_file: Path | None,
    bands: tuple[int, ...] | None,
    scaling: str | None,
    gsd: float | None,
    working_gsd: float | None,
    tile: int | None,
    overlap: int | None,
    batch_size: int | None,
    tta: bool,
    road_threshold: float | None,
    detect_fill: bool,
    device: str,
    precision: str,
    threads: int | None,
    vectorize: Path | None,
    block_size: int | None,
    cluster: str | None,
    workers: int | None,
    merge: bool,
    overwrite: bool,
    as_json: bool,
    progress: str,
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
            model=model,
            out=out,
            probabilities=probabilities,
            cog=cog,
            bbox=bbox or None,
            bbox_crs=bbox_crs,
            extent_file=extent_file,
            bands=bands,
            scaling=scaling,
            gsd=gsd,
            working_gsd=working_gsd,
            tile=tile,
            overlap=overlap,
            batch_size=batch_size,
            tta=tta,
            road_threshold=road_threshold,
            detect_fill=detect_fill,
            device=device,
            precision=precision,
            threads=threads,
            vectorize=vectorize,
            block_size=block_size,
            cluster=cluster,
            workers=workers,
            merge=merge,
            overwrite=overwrite,
            progress=renderer,
            cancel=cancel,
        )
    for w in result.warnings:
        click.echo(f"Warning: {render(w)}", err=True)
    if as_json:
        emit_json({**result.as_dict(), "warnings": [render(w) for w in result.warnings]})
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
