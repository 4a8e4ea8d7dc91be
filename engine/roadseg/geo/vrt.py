"""A window of a raster as a GDAL VRT file: a crop that copies no pixels.

The VRT references the source file by absolute path, keeps its CRS, its
geotransform shifted to the window, band data types, colour interpretation (alpha
included) and nodata, so a :class:`~roadseg.geo.raster.RasterSource` reads the crop
exactly as it would read that window of the source.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from xml.sax.saxutils import escape

import rasterio
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from roadseg.geo.atomic import atomic_output

_GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "float32": "Float32",
    "float64": "Float64",
}


def vrt_xml(
    source: str,
    window: Window,
    dtypes: tuple[str, ...],
    colorinterp: tuple[str, ...],
    nodata: tuple[float | None, ...],
    crs_wkt: str | None,
    transform: tuple[float, ...] | None,
) -> str:
    """The VRT document of ``window`` of ``source`` (pure).

    >>> x = vrt_xml("/d/a.tif", Window(10, 20, 30, 40), ("uint8",), ("gray",), (None,), None, None)
    >>> 'rasterXSize="30"' in x and '<SrcRect xOff="10" yOff="20" xSize="30" ySize="40"/>' in x
    True
    """
    w, h = int(window.width), int(window.height)
    parts = [f'<VRTDataset rasterXSize="{w}" rasterYSize="{h}">']
    if crs_wkt:
        parts.append(f"  <SRS>{escape(crs_wkt)}</SRS>")
    if transform is not None:
        a, b, c, d, e, f = transform[:6]
        x0 = c + a * window.col_off + b * window.row_off
        y0 = f + d * window.col_off + e * window.row_off
        parts.append(f"  <GeoTransform>{x0!r}, {a!r}, {b!r}, {y0!r}, {d!r}, {e!r}</GeoTransform>")
    src = escape(str(source))
    for i, (dt, ci, nd) in enumerate(zip(dtypes, colorinterp, nodata, strict=True), start=1):
        parts.append(f'  <VRTRasterBand dataType="{_GDAL_TYPES.get(dt, "Float64")}" band="{i}">')
        if nd is not None:
            parts.append(f"    <NoDataValue>{nd!r}</NoDataValue>")
        parts.append(f"    <ColorInterp>{ci.capitalize()}</ColorInterp>")
        parts.append("    <SimpleSource>")
        parts.append(f'      <SourceFilename relativeToVRT="0">{src}</SourceFilename>')
        parts.append(f"      <SourceBand>{i}</SourceBand>")
        parts.append(
            f'      <SrcRect xOff="{int(window.col_off)}" yOff="{int(window.row_off)}" '
            f'xSize="{w}" ySize="{h}"/>'
        )
        parts.append(f'      <DstRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>')
        parts.append("    </SimpleSource>")
        parts.append("  </VRTRasterBand>")
    parts.append("</VRTDataset>")
    return "\n".join(parts) + "\n"


def write_window_vrt(
    source: str | os.PathLike[str], window: Window, out: str | os.PathLike[str]
) -> Path:
    """Write a VRT of ``window`` of ``source`` to ``out`` (atomically); return ``out``."""
    src = Path(source).absolute()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(src) as ds:
            georef = ds.crs is not None
            text = vrt_xml(
                str(src),
                window,
                tuple(ds.dtypes),
                tuple(ci.name for ci in ds.colorinterp),
                tuple(ds.nodatavals),
                ds.crs.to_wkt() if georef else None,
                tuple(ds.transform)[:6] if georef else None,
            )
    with atomic_output(out) as tmp:
        tmp.write_text(text)
    return Path(out)
