"""``roadseg vectorize CLASS_RASTER --out OUT.gpkg``: road polygons per class and centrelines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from roadseg.cli.options import (
    ProgressRenderer,
    emit_json,
    interrupt_as_cancel,
    json_option,
    overwrite_option,
    progress_option,
)
from roadseg.cli.paths import RASTER_PATH
from roadseg.geo.paths import RasterPath


@click.command("vectorize")
@click.argument("class_raster", type=RASTER_PATH)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="GeoPackage to write (layers roads_<class> and centerlines).",
)
@click.option(
    "--graphml",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the network as GraphML: an osmnx-compatible directed multigraph "
    "(length in metres, highway, width, geometry).",
)
@click.option(
    "--edges",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the directed edge list with the same attributes (.gpkg or .geojson).",
)
@click.option(
    "--simplify",
    "simplify_m",
    type=float,
    default=None,
    help="Simplification tolerance in metres [default: max(1 m, 1 pixel)].",
)
@click.option(
    "--min-area",
    "min_area_m2",
    type=float,
    default=None,
    help="Smallest road polygon kept, m²; smaller holes are filled [default: from widths].",
)
@click.option(
    "--prune",
    "prune_m",
    type=float,
    default=None,
    help="Prune dead-end spurs shorter than this, metres [default: 2 × widest class].",
)
@click.option(
    "--bridge",
    "bridge_m",
    type=float,
    default=None,
    help="Bridge gaps up to this between facing dead ends, metres (0: off) [default: 15].",
)
@click.option(
    "--bridge-angle",
    "bridge_angle_deg",
    type=float,
    default=30.0,
    show_default=True,
    help="Largest angle between a dead end's direction and the gap, degrees.",
)
@click.option(
    "--block-size",
    type=int,
    default=4096,
    show_default=True,
    help="Block size in pixels; memory is bounded by the block.",
)
@click.option(
    "--no-cleaning",
    is_flag=True,
    help="Skip the network cleaning steps (carriageways, loops, edge stubs).",
)
@click.option(
    "--carriageways",
    type=click.Choice(["merge", "keep"]),
    default="keep",
    show_default=True,
    help="Merge the two sides of divided roads into one centreline, or keep both.",
)
@click.option(
    "--carriageway-gap",
    "carriageway_gap_m",
    type=float,
    default=None,
    help="Widest median merged, metres [default: the widest class width].",
)
@click.option(
    "--loop-area",
    "loop_area_m2",
    type=float,
    default=None,
    help="Collapse loops whose centreline encloses less than this, m² (0: off) [default: 400].",
)
@click.option(
    "--loop-width",
    "loop_width_m",
    type=float,
    default=None,
    help="Fill enclosed holes narrower than this (medians, parking rows), metres "
    "(0: off; e.g. 4) [default: 0].",
)
@click.option(
    "--stub",
    "stub_m",
    type=float,
    default=None,
    help="Cut dead ends shorter than this at the raster's edge or nodata that lie within "
    "the road they leave, metres (0: off) [default: 10].",
)
@click.option(
    "--road-bridge",
    "road_bridge_m",
    type=float,
    default=None,
    help="Join a dead end to the road up to this far ahead of it (within --bridge-angle) "
    "where the bridge lies on road pixels, metres (0: off) [default: 20].",
)
@click.option(
    "--junction",
    "junction_m",
    type=float,
    default=None,
    help="Contract links between two junctions shorter than the roads' width and than "
    "this into one junction, metres (0: off; e.g. 15) [default: 0].",
)
@click.option(
    "--min-piece",
    "min_piece_m",
    type=float,
    default=None,
    help="Drop pieces of network spanning less than this (length plus width) that touch "
    "neither the raster's edge nor nodata, metres (0: off) [default: 5 × widest class].",
)
@click.option(
    "--gsd",
    type=float,
    default=None,
    help="Pixel size in metres for rasters without georeferencing.",
)
@overwrite_option
@progress_option
@json_option
def cli(
    class_raster: RasterPath,
    out: Path,
    graphml: Path | None,
    edges: Path | None,
    simplify_m: float | None,
    min_area_m2: float | None,
    prune_m: float | None,
    bridge_m: float | None,
    bridge_angle_deg: float,
    block_size: int,
    no_cleaning: bool,
    carriageways: str,
    carriageway_gap_m: float | None,
    loop_area_m2: float | None,
    loop_width_m: float | None,
    stub_m: float | None,
    road_bridge_m: float | None,
    junction_m: float | None,
    min_piece_m: float | None,
    gsd: float | None,
    overwrite: bool,
    progress: str,
    as_json: bool,
) -> None:
    """Vectorise CLASS_RASTER (the class GeoTIFF written by 'roadseg predict')."""
    from roadseg.vectorization import vectorize

    given = {
        "loop_area_m2": loop_area_m2,
        "loop_width_m": loop_width_m,
        "stub_m": stub_m,
        "road_bridge_m": road_bridge_m,
        "junction_m": junction_m,
        "min_piece_m": min_piece_m,
    }
    steps: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    with ProgressRenderer(progress) as renderer, interrupt_as_cancel() as cancel:
        res = vectorize(
            class_raster,
            out,
            graphml=graphml,
            edges=edges,
            simplify_m=simplify_m,
            min_area_m2=min_area_m2,
            prune_m=prune_m,
            bridge_m=bridge_m,
            bridge_angle_deg=bridge_angle_deg,
            block_size=block_size,
            gsd=gsd,
            overwrite=overwrite,
            progress=renderer,
            cancel=cancel,
            cleaning=not no_cleaning,
            carriageways=carriageways,
            carriageway_gap_m=carriageway_gap_m,
            **steps,
        )
    if as_json:
        emit_json(res.as_dict())
        return
    click.echo(f"wrote {res.gpkg}" + (f" and {res.graphml}" if res.graphml else ""))
    click.echo(
        f"  centrelines  {res.centerline_km:.3f} km, {res.edges} edges, {res.nodes} nodes, "
        f"{res.components} connected piece(s)"
    )
    for c in res.classes:
        click.echo(
            f"  {c.layer:<20} {c.polygons} polygon(s), {c.area_km2:.4f} km², "
            f"{c.centerline_km:.3f} km of centreline"
        )
    click.echo(
        "  cleaning     " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in res.cleanup.items())
    )
    click.echo(f"  {res.megapixels:.2f} MP in {res.timings.get('total', 0):.2f} s")
