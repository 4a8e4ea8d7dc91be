"""GDAL virtual mosaics (VRT) of rasters that tile one grid: the blocks of a blocked prediction.

A VRT is a small XML file that GDAL (rasterio, QGIS, ``gdal_translate``) reads as
one raster; its sources are the block files, referenced relative to the VRT so the
folder can be moved. Nothing is copied. The XML is written directly (no GDAL
utility is needed) and atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from rasterio.windows import Window

from roadseg.geo.atomic import atomic_output
from roadseg.geo.grid import Grid

#: numpy dtype names → GDAL data type names.
GDAL_TYPES = {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "float32": "Float32"}


@dataclass(frozen=True)
class VrtSource:
    """One file of a mosaic.

    Attributes:
        path: The file.
        window: Where it lies in the mosaic's grid (its whole extent).

    """

    path: Path
    window: Window


@dataclass(frozen=True)
class VrtBands:
    """What the mosaic's bands are.

    Attributes:
        count: Bands (band ``i`` of the mosaic is band ``i`` of every source).
        dtype: numpy dtype name.
        nodata: Nodata value (None: none).
        colormap: Band 1 palette ({value: (r, g, b, a)}).
        descriptions: Band descriptions.
        tags: Dataset metadata.
        mask: Use the sources' per-dataset masks as the mosaic's mask.

    """

    count: int
    dtype: str = "uint8"
    nodata: float | None = None
    colormap: Mapping[int, Sequence[int]] | None = None
    descriptions: Sequence[str] = ()
    tags: Mapping[str, str] | None = None
    mask: bool = False


def _geotransform(grid: Grid) -> str:
    t = grid.transform
    return ", ".join(repr(float(v)) for v in (t.c, t.a, t.b, t.f, t.d, t.e))


def _sources(vrt: Path, sources: Sequence[VrtSource], band: str, kind: str = "Simple") -> str:
    out = []
    for s in sources:
        rel = os.path.relpath(s.path, vrt.parent)
        w = s.window
        rect = f'xSize="{int(w.width)}" ySize="{int(w.height)}"'
        out.append(
            f"      <{kind}Source>\n"
            f'        <SourceFilename relativeToVRT="1">{escape(rel)}</SourceFilename>\n'
            f"        <SourceBand>{band}</SourceBand>\n"
            f'        <SrcRect xOff="0" yOff="0" {rect}/>\n'
            f'        <DstRect xOff="{int(w.col_off)}" yOff="{int(w.row_off)}" {rect}/>\n'
            f"      </{kind}Source>"
        )
    return "\n".join(out)


def mosaic_xml(path: Path, grid: Grid, sources: Sequence[VrtSource], bands: VrtBands) -> str:
    """The XML of a VRT at ``path`` mosaicking ``sources`` on ``grid``.

    >>> from affine import Affine
    >>> g = Grid(None, Affine(1, 0, 0, 0, -1, 0), 4, 2)
    >>> xml = mosaic_xml(Path("m.vrt"), g, [VrtSource(Path("b/a.tif"), Window(2, 0, 2, 2))],
    ...                  VrtBands(1, nodata=255))
    >>> '<DstRect xOff="2" yOff="0" xSize="2" ySize="2"/>' in xml, "<NoDataValue>255" in xml
    (True, True)
    """
    gdal_type = GDAL_TYPES[bands.dtype]
    lines = [f'<VRTDataset rasterXSize="{grid.width}" rasterYSize="{grid.height}">']
    if grid.crs is not None:
        lines.append(f"  <SRS>{escape(grid.crs.to_wkt())}</SRS>")
    lines.append(f"  <GeoTransform>{_geotransform(grid)}</GeoTransform>")
    if bands.tags:
        lines.append("  <Metadata>")
        for k, v in bands.tags.items():
            lines.append(f"    <MDI key={quoteattr(str(k))}>{escape(str(v))}</MDI>")
        lines.append("  </Metadata>")
    for b in range(1, bands.count + 1):
        lines.append(f'  <VRTRasterBand dataType="{gdal_type}" band="{b}">')
        if b <= len(bands.descriptions):
            lines.append(f"    <Description>{escape(bands.descriptions[b - 1])}</Description>")
        if bands.nodata is not None:
            lines.append(f"    <NoDataValue>{bands.nodata:g}</NoDataValue>")
        if b == 1 and bands.colormap:
            lines.append("    <ColorInterp>Palette</ColorInterp>")
            lines.append("    <ColorTable>")
            top = max(bands.colormap)
            for i in range(top + 1):
                c = tuple(bands.colormap.get(i, (0, 0, 0, 255)))
                alpha = c[3] if len(c) > 3 else 255
                lines.append(f'      <Entry c1="{c[0]}" c2="{c[1]}" c3="{c[2]}" c4="{alpha}"/>')
            lines.append("    </ColorTable>")
        lines.append(_sources(path, sources, str(b)))
        lines.append("  </VRTRasterBand>")
    if bands.mask:
        lines.append("  <MaskBand>")
        lines.append('    <VRTRasterBand dataType="Byte">')
        lines.append(_sources(path, sources, "mask,1"))
        lines.append("    </VRTRasterBand>")
        lines.append("  </MaskBand>")
    lines.append("</VRTDataset>")
    return "\n".join(lines) + "\n"


def write_mosaic(
    path: str | os.PathLike[str], grid: Grid, sources: Sequence[VrtSource], bands: VrtBands
) -> Path:
    """Write a VRT mosaic (atomically); see :func:`mosaic_xml`."""
    p = Path(path)
    text = mosaic_xml(
        p.absolute(), grid, [VrtSource(s.path.absolute(), s.window) for s in sources], bands
    )
    with atomic_output(p) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return p
