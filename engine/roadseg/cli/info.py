"""``roadseg info RASTER``: CRS, size, ground resolution, bands, nodata, blocks, bounds."""

from __future__ import annotations

import click

from roadseg.cli.options import emit_json, json_option
from roadseg.cli.paths import RASTER_PATH
from roadseg.geo.paths import RasterPath


@click.command("info")
@click.argument("raster", type=RASTER_PATH)
@json_option
def cli(raster: RasterPath, as_json: bool) -> None:
    """Describe RASTER (any GDAL raster: a file, /vsizip/..., /vsicurl/..., an http(s) URL)."""
    from roadseg.geo.raster import raster_info

    info = raster_info(raster)
    if as_json:
        emit_json(info)
        return
    gsd = info["gsd_m"]
    lines = [
        f"{info['path']}  ({info['driver']})",
        f"  size        {info['width']} x {info['height']} px, {info['count']} band(s) {', '.join(info['dtypes'])}",
        f"  colours     {', '.join(info['colorinterp'])}"
        + (f" (alpha = band {info['alpha_band']})" if info["alpha_band"] else ""),
        f"  nodata      {info['nodata']}" + (f", {info['nbits']}-bit" if info["nbits"] else ""),
        f"  blocks      {info['block_shapes'][0]}  compression {info['compression']}  overviews {info['overviews']}",
    ]
    if info["georeferenced"]:
        lines += [
            f"  CRS         {info['crs']} {info.get('crs_name', '')} ({info.get('crs_units')})",
            f"  resolution  {gsd[0]:.3f} x {gsd[1]:.3f} m/px (at the centre)",
            f"  bounds      {info['bounds']}",
            f"  WGS84       {[round(v, 6) for v in info['bounds_wgs84']]}",
        ]
    else:
        lines.append("  not georeferenced: give --gsd METRES to predict or train on it")
    click.echo("\n".join(lines))
