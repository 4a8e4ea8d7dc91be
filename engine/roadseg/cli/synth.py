"""``roadseg synth OUTDIR``: a synthetic georeferenced road scene (image.tif + roads.gpkg)."""

from __future__ import annotations

from pathlib import Path

import click

from roadseg.cli.options import ProgressRenderer, emit_json, json_option, progress_option

_STYLES = ("random", "urban", "suburban", "rural")
_MIN_SIZE, _MAX_SIZE = 64, 16384


def _size(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if not _MIN_SIZE <= value <= _MAX_SIZE:
        raise click.BadParameter(
            f"{value} is out of range; give {_MIN_SIZE} to {_MAX_SIZE} pixels", param_hint="--size"
        )
    return value


def _gsd(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0.05 <= value <= 5.0:
        raise click.BadParameter(
            f"{value} is out of range; give 0.05 to 5 metres per pixel", param_hint="--gsd"
        )
    return value


def _origin(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lon, lat = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not LON,LAT; give e.g. -115.2,36.2", param_hint="--origin"
        ) from None
    if not (-180 <= lon <= 180 and -85 <= lat <= 85):
        raise click.BadParameter(
            f"{value!r} is off the map; give -180..180,-85..85", param_hint="--origin"
        )
    return (lon, lat)


@click.command("synth")
@click.argument("out_dir", metavar="OUTDIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--size", default=1024, show_default=True, type=int, callback=_size, help="Pixels per side."
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Random seed (same seed, same files).",
)
@click.option(
    "--crs",
    default="EPSG:32611",
    show_default=True,
    help="Output CRS, e.g. EPSG:32611 or EPSG:4326.",
)
@click.option(
    "--gsd",
    default=0.5,
    show_default=True,
    type=float,
    callback=_gsd,
    help="Ground size of a pixel in metres.",
)
@click.option(
    "--style",
    type=click.Choice(_STYLES),
    default="random",
    show_default=True,
    help="Layout kind; palettes, sun and sensor are randomised in every style.",
)
@click.option(
    "--origin",
    default=None,
    callback=_origin,
    metavar="LON,LAT",
    help="Scene centre in degrees [default: -115.2,36.2, or the CRS's area of use].",
)
@json_option
@progress_option
def cli(
    out_dir: Path,
    size: int,
    seed: int,
    crs: str,
    gsd: float,
    style: str,
    origin: tuple[float, float] | None,
    as_json: bool,
    progress: str,
) -> None:
    """Write a synthetic road scene: OUTDIR/image.tif (RGB GeoTIFF) and OUTDIR/roads.gpkg."""
    from roadseg.synth import make_scene

    with ProgressRenderer("none" if as_json and progress == "bar" else progress) as renderer:
        result = make_scene(
            out_dir,
            size=size,
            seed=seed,
            crs=crs,
            gsd=gsd,
            style=style,
            origin=origin,
            progress=renderer,
        )
    if as_json:
        emit_json(result.as_dict())
        return
    km = ", ".join(f"{k} {v:.2f} km" for k, v in result.km.items())
    click.echo(
        f"wrote {result.image} and {result.roads} "
        f"({result.layout}, {size}x{size} px at {gsd} m, {result.crs}; {km})"
    )
