"""Options a prediction and a fit check share: the model, the area, the bands, the network.

``roadseg predict`` and ``roadseg check-fit`` read imagery the same way (one engine path,
:class:`roadseg.prediction.PredictOptions`), so they take these options with the same names,
ranges and help.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from roadseg.cli.options import F


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


#: In the order ``--help`` lists them.
_IMAGERY_OPTIONS = [
    click.option(
        "--model",
        "model",
        default="default",
        show_default=True,
        help="Model file (from `roadseg train`) or 'default' (the embedded model).",
    ),
    click.option(
        "--bbox",
        nargs=4,
        type=float,
        default=None,
        metavar="MINX MINY MAXX MAXY",
        help="Only predict this box (in --bbox-crs, default the raster's CRS).",
    ),
    click.option("--bbox-crs", default=None, metavar="CRS", help="CRS of --bbox, e.g. EPSG:4326."),
    click.option(
        "--extent-file",
        type=click.Path(path_type=Path),
        default=None,
        help="Only predict inside these polygons (any CRS); outside is nodata.",
    ),
    click.option(
        "--bands",
        callback=_bands,
        default=None,
        metavar="1,2,3",
        help="Raster bands to feed the model (default: the model's).",
    ),
    click.option(
        "--scaling",
        default=None,
        metavar="auto|HIGH|LOW,HIGH",
        help="Raw value range mapped to [0, 1] (default: the model's).",
    ),
    click.option(
        "--gsd",
        type=float,
        default=None,
        metavar="METRES",
        help="Pixel size of a plain image without georeferencing (PNG/JPG).",
    ),
    click.option(
        "--working-gsd",
        type=float,
        default=None,
        metavar="METRES",
        help="Ground resolution the network runs at (default: the model's; 0.5-2x it). Finer "
        "(e.g. 0.4 for a 0.5 m model) can connect roads better at (model/working)^2 the compute; "
        "outputs stay on the raster's grid.",
    ),
    click.option(
        "--tile",
        type=int,
        default=None,
        help="Tile side in pixels at the working resolution (multiple of 32; default: the model's).",
    ),
    click.option(
        "--overlap",
        type=int,
        default=None,
        help="Overlap between tiles in pixels (default: tile/4).",
    ),
    click.option(
        "--batch-size",
        type=int,
        default=None,
        help="Tiles per network call (default 8 on GPU, 2 on CPU).",
    ),
    click.option(
        "--tta", is_flag=True, help="Test-time augmentation: average over flips (4x slower)."
    ),
    click.option(
        "--road-threshold",
        type=float,
        default=None,
        metavar="P",
        help="Road where the road classes' probability together reaches P (0-1, exclusive; "
        "default: the model's, see `roadseg models`). Lower maps more road (fewer gaps, more "
        "false road), higher less.",
    ),
    click.option(
        "--detect-fill/--no-detect-fill",
        default=True,
        show_default=True,
        help="Treat large areas of pure black or pure white (undeclared no-data fill) as nodata "
        "when the raster declares no nodata, alpha or mask.",
    ),
    click.option(
        "--device",
        default="auto",
        show_default=True,
        metavar="auto|cpu|cuda|cuda:N|mps",
        help="Where to run the network.",
    ),
    click.option(
        "--precision",
        type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
        default="auto",
        show_default=True,
        help="Autocast precision (auto: where it pays).",
    ),
    click.option(
        "--threads", type=int, default=None, help="CPU threads for the network (default: torch's)."
    ),
]


def imagery_options(f: F) -> F:
    """Add the options :data:`_IMAGERY_OPTIONS` (model, area, bands, network) to a command."""
    for option in reversed(_IMAGERY_OPTIONS):
        f = option(f)
    return f


def imagery_arguments(values: dict[str, Any]) -> dict[str, Any]:
    """The engine's keyword arguments from the values of :func:`imagery_options`.

    Click names each value after the engine's parameter (``--working-gsd`` → ``working_gsd``);
    an absent ``--bbox`` arrives as an empty tuple and goes on as None.

    >>> imagery_arguments({"model": "default", "bbox": (), "tile": 256})
    {'model': 'default', 'bbox': None, 'tile': 256}
    """
    return {**values, "bbox": values.get("bbox") or None}
