"""Training and evaluation labels, rasterised per window.

:class:`VectorLabels` reads road lines or polygons (GeoPackage, GeoJSON,
Shapefile... any CRS) once, reprojects them to the raster's CRS, buffers lines
by half their road width in metres, and indexes them (STRtree) so each window
rasterises only the features it touches. :class:`MaskLabels` reads a raster
mask (class indexes or colour-coded) into any window. Both return uint8 class
ids with 0 = background.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import shapely
from rasterio.features import rasterize

from roadseg.errors import CRSError, DataError, InputNotFoundError, LabelError
from roadseg.geo.classes import ClassScheme
from roadseg.geo.classraster import parse_class_tags
from roadseg.geo.grid import Grid, metric_crs_for
from roadseg.geo.raster import RasterSource
from roadseg.geo.vector_input import read_vector

RASTER_SUFFIXES = {".tif", ".tiff", ".png", ".jpg", ".jpeg", ".vrt", ".jp2", ".img"}


class LabelSource(Protocol):
    """Anything that rasterises class ids into a grid."""

    scheme: ClassScheme

    def rasterize(self, grid: Grid) -> np.ndarray:
        """Class ids (uint8, H×W) on ``grid``; 0 = background."""
        ...


class VectorLabels:
    """Road vectors rasterised per window.

    Args:
        path: Vector file (any OGR format).
        scheme: Class scheme (names, widths, attribute mapping).
        raster_grid: Grid of the imagery; features are reprojected to its CRS and
            must overlap it.
        class_field: Attribute holding the class (default: the scheme's field).
        layer: Layer name for multi-layer files.
        on_unknown: ``"error"`` (default) or ``"ignore"`` features whose class value
            is not in the scheme.

    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        scheme: ClassScheme,
        raster_grid: Grid,
        class_field: str | None = None,
        layer: str | None = None,
        on_unknown: str = "error",
    ) -> None:
        self.path = Path(path)
        field = class_field if class_field is not None else scheme.field
        self.scheme = scheme.with_field(field)
        if raster_grid.crs is None:  # before reading what may be a large file
            raise CRSError(
                f"vector labels {str(self.path)!r} need georeferenced imagery; for plain images "
                "give raster masks as labels"
            )
        gdf = read_vector(self.path, what="labels", param="labels", layer=layer, plural=True)
        gdf["class_id"] = self._class_ids(gdf, on_unknown)
        gdf = gdf[gdf["class_id"] > 0]
        lines = gdf.to_crs(raster_grid.crs)
        self.lines = lines
        box = shapely.box(*raster_grid.bounds)
        if lines.empty or not lines.intersects(box).any():
            b = [round(v, 6) for v in raster_grid.bounds]
            raise LabelError(
                f"no road feature of {str(self.path)!r} falls inside the raster (bounds {b} in "
                f"{raster_grid.crs}); give labels for the same area"
            )
        self.surfaces = self._buffer(gdf, raster_grid)
        geoms = self.surfaces.geometry.values
        self._geoms = np.asarray(geoms)
        self._classes = self.surfaces["class_id"].to_numpy(np.uint8)
        self._tree = shapely.STRtree(self._geoms)

    def _class_ids(self, gdf: gpd.GeoDataFrame, on_unknown: str) -> np.ndarray:
        scheme = self.scheme
        if not scheme.values or scheme.field is None:
            return np.ones(len(gdf), dtype=np.int16)
        if scheme.field not in gdf.columns:
            fields = [c for c in gdf.columns if c != "geometry"]
            raise LabelError(
                f"labels {str(self.path)!r} have no attribute {scheme.field!r}",
                param="class_field",
                value=scheme.field,
                hint=f"give `class_field`, one of: {', '.join(fields) or '(none)'}",
            )
        raw = gdf[scheme.field].to_numpy()
        ids = np.array([scheme.class_of(v) if v is not None else None for v in raw], dtype=object)
        unknown = sorted({str(v) for v, i in zip(raw, ids, strict=True) if i is None})
        if unknown and on_unknown == "error":
            raise LabelError(
                f"labels {str(self.path)!r}: values {unknown[:10]} of {scheme.field!r} map to "
                "no class",
                param="class_map",
                hint="add them to `class_map` as VALUE=CLASS",
            )
        return np.array([0 if i is None else i for i in ids], dtype=np.int16)

    def _buffer(self, gdf: gpd.GeoDataFrame, raster_grid: Grid) -> gpd.GeoDataFrame:
        """Buffer lines by half their width in a metric CRS; return surfaces in the raster CRS."""
        metric = metric_crs_for(raster_grid)
        g = gdf.to_crs(metric)
        widths = np.asarray(self.scheme.widths_m, dtype=float)[g["class_id"].to_numpy()]
        wf = self.scheme.width_field
        if wf and wf in g.columns:
            own = g[wf].to_numpy(dtype=float, na_value=np.nan)
            widths = np.where(np.isfinite(own) & (own > 0), own, widths)
        surfaces = road_surfaces(np.asarray(g.geometry.values), widths)
        out = gpd.GeoDataFrame(
            {"class_id": g["class_id"].to_numpy()}, geometry=surfaces, crs=metric
        )
        out = out.to_crs(raster_grid.crs)
        # Draw low-priority classes first so major roads win at junctions.
        return out.sort_values("class_id", ascending=False, kind="stable").reset_index(drop=True)

    def rasterize(self, grid: Grid) -> np.ndarray:
        """Class ids (uint8, H×W) on ``grid``; only features touching the grid are drawn."""
        out = np.zeros(grid.shape, dtype=np.uint8)
        idx = np.sort(self._tree.query(shapely.box(*grid.bounds)))
        if idx.size == 0:
            return out
        shapes = zip(self._geoms[idx], self._classes[idx], strict=True)
        return rasterize(
            shapes, out_shape=grid.shape, transform=grid.transform, out=out, dtype=np.uint8
        )


def road_surfaces(geoms: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Road surfaces: lines buffered by half their width (metric units), polygons as they are.

    Lines get flat caps plus round joints at their ends only, so consecutive features join
    without notches and a road does not run on past its end.

    >>> s = road_surfaces(np.array([shapely.LineString([(0, 0), (10, 0)]), shapely.box(0, 0, 1, 1)]),
    ...                   np.array([2.0, 5.0]))
    >>> [round(g.area, 1) for g in s]
    [23.1, 1.0]
    >>> m = shapely.MultiLineString([[(0, 0), (10, 0)], [(0, 5), (10, 5)]])
    >>> round(road_surfaces(np.array([m]), np.array([2.0]))[0].area, 1)
    46.2
    """
    is_area = np.isin(shapely.get_type_id(geoms), (3, 6))
    half = np.where(is_area, 0.0, np.asarray(widths, dtype=float) / 2.0)
    buffered = shapely.buffer(geoms, half, cap_style="flat")
    # Flat caps leave notches at joints between consecutive segments of two features:
    # add round-capped joints of the same radius only at the line ends.
    # (The boundary of a line is its end points, also for multi-lines.)
    lines = np.array(geoms, dtype=object)
    lines[is_area] = None
    ends = shapely.buffer(shapely.boundary(lines), half)
    ends = np.where(shapely.is_missing(ends), shapely.Point(), ends)
    return np.where(is_area, geoms, shapely.union(buffered, ends))


#: A mask of three or more bands is colour-coded when more than this share of its pixels
#: are coloured (channels more than :data:`GREY_SPREAD` apart), not grey: white-on-black
#: masks saved as RGB (DeepGlobe's) stay binary.
COLOURED_SHARE = 0.01
#: Largest spread between a pixel's channels that still counts as grey (JPEG-ish noise).
GREY_SPREAD = 16
#: Pixels sampled to tell a colour-coded mask (about; the mask is read decimated).
COLOUR_SAMPLE = 1_000_000


def _sample(ds: Any, bands: list[int]) -> np.ndarray:
    """Bands of a raster read decimated to about :data:`COLOUR_SAMPLE` pixels (bands × N)."""
    import math

    from rasterio.enums import Resampling

    step = max(1, math.ceil(math.sqrt(ds.width * ds.height / COLOUR_SAMPLE)))
    shape = (len(bands), max(1, ds.height // step), max(1, ds.width // step))
    a = ds.read(bands, out_shape=shape, resampling=Resampling.nearest)
    return np.asarray(a).reshape(len(bands), -1).astype(np.int64)


def _most_common(codes: np.ndarray, k: int = 4) -> tuple[int, list[tuple[int, float]]]:
    """How many distinct codes, and the ``k`` most common with their shares."""
    values, counts = np.unique(codes, return_counts=True)
    top = np.argsort(-counts, kind="stable")[:k]
    return len(values), [(int(values[i]), float(counts[i]) / codes.size) for i in top]


def mask_colours(sample: np.ndarray) -> list[tuple[tuple[int, int, int], float]] | None:
    """The most common colours and their shares of a colour-coded mask (None: not one).

    ``sample`` is the mask's bands read by :func:`_sample`. A mask of fewer than three
    bands, or of grey pixels (R = G = B, give or take :data:`GREY_SPREAD`), is not
    colour-coded.
    """
    if sample.shape[0] < 3:
        return None
    rgb = sample[:3].clip(0, 255)
    if ((rgb.max(axis=0) - rgb.min(axis=0)) > GREY_SPREAD).mean() <= COLOURED_SHARE:
        return None
    _, top = _most_common((rgb[0] << 16) | (rgb[1] << 8) | rgb[2])
    return [((c >> 16 & 255, c >> 8 & 255, c & 255), share) for c, share in top]


def mask_values_seen(
    sample: np.ndarray, nodata: float | None
) -> tuple[int, list[tuple[int, float]]]:
    """How many values band 1 of a mask holds besides its no-data, and the commonest.

    ``sample`` as for :func:`mask_colours`; the four most common values come with their
    shares. Read decimated: a value on a few pixels may be missed.
    """
    band = sample[0]
    if nodata is not None:  # declared no-data is not a label value
        band = band[band != nodata]
    return _most_common(band) if band.size else (0, [])


class MaskLabels:
    """A raster mask used as labels: class indexes, a value map, or colour-coded.

    Args:
        path: Mask raster (GeoTIFF on the imagery's area, or a plain PNG of the same size).
        scheme: Class scheme.
        values: Raw value → class (default: 0 → background, any other → 1 for binary
            schemes; identity for values below the number of classes otherwise).
        colors: RGB colour → class for colour-coded masks, RGB or palette (unlisted colours
            → background).
        gsd: Pixel size for plain images (must match the imagery's).
        threshold: For soft masks: values ≥ threshold are road (binary schemes only).

    Raises:
        LabelError: a colour-coded mask (:func:`mask_colours`) without ``colors``; a
            road/background mask of more than two values besides its declared no-data
            (:func:`mask_values_seen`) without ``values`` or ``threshold``. A class raster
            (roadseg's class tags) is neither: its nonzero values are road classes.

    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        scheme: ClassScheme,
        values: dict[int, int] | None = None,
        colors: dict[tuple[int, int, int], int] | None = None,
        gsd: float | None = None,
        threshold: float | None = None,
    ) -> None:
        self.scheme = scheme
        self.values = values
        self.colors = colors
        self.threshold = threshold
        self._palette_lut: np.ndarray | None = None
        probe = RasterSource(path, bands=[1], gsd=gsd)
        if colors and probe.count < 3:
            # A palette mask (one band of indexes): index → colour → class.
            try:
                cmap = probe.dataset.colormap(1)
            except ValueError:
                raise LabelError(
                    f"mask {str(probe.path)!r} has {probe.count} band(s) and no palette; a colour "
                    "map needs an RGB or palette mask",
                    param="mask_colors",
                    hint="give `mask_values` for index masks",
                ) from None
            lut = np.zeros(256, dtype=np.uint8)
            for idx, rgba in cmap.items():
                lut[idx] = colors.get((int(rgba[0]), int(rgba[1]), int(rgba[2])), 0)
            self._palette_lut = lut
        # A class raster (roadseg's tags) holds road classes: nonzero = road is its meaning.
        unmapped = not colors and values is None and threshold is None
        if unmapped and parse_class_tags(probe.dataset.tags()) is None:
            ds = probe.dataset
            sample = _sample(ds, [1, 2, 3] if ds.count >= 3 else [1])  # one read, both checks
            coded = mask_colours(sample)
            if coded is not None:
                probe.close()
                seen = ", ".join(f"{r},{g},{b} ({100 * f:.0f} %)" for (r, g, b), f in coded)
                raise LabelError(
                    f"mask {str(probe.path)!r} is colour-coded (most common colours: {seen}); "
                    "read as one band of values, nearly every colour would be road",
                    param="mask_colors",
                    value=str(probe.path),
                    hint="give the colours that are road as `mask_colors` (R,G,B=road, several "
                    "joined by ';'), or a single-band mask (0 background, 1 or 255 road)",
                )
            n, common = mask_values_seen(sample, ds.nodata) if scheme.binary else (0, [])
            if n > 2:
                probe.close()
                listed = ", ".join(f"{v} ({100 * f:.0f} %)" for v, f in common)
                raise LabelError(
                    f"mask {str(probe.path)!r} holds {n} values (most common: {listed}); read "
                    "as nonzero = road, every one of them but 0 would be road",
                    param="mask_values",
                    value=str(probe.path),
                    hint="say what each value is with `mask_values` (e.g. 0=background,1=road,"
                    "255=ignore), or give `mask_threshold` for a soft or JPEG-compressed mask",
                )
        if colors and self._palette_lut is None:  # RGB colour-coded mask
            probe.close()
            probe = RasterSource(path, bands=[1, 2, 3], gsd=gsd)
        self._src = probe
        self.path = self._src.path

    @property
    def grid(self) -> Grid:
        """The mask's own grid."""
        return self._src.grid

    def rasterize(self, grid: Grid) -> np.ndarray:
        """Class ids (uint8, H×W) on ``grid``; outside the mask → ignore index."""
        raw, valid = self._src.read_raw(grid, "nearest")
        out = np.zeros(grid.shape, dtype=np.uint8)
        if self._palette_lut is not None:
            out[:] = self._palette_lut[raw[0].astype(np.intp).clip(0, 255)]
        elif self.colors:
            rgb = raw[:3].astype(np.int32)
            code = (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]
            for (r, g, b), cls_ in self.colors.items():
                out[code == ((r << 16) | (g << 8) | b)] = cls_
        else:
            band = raw[0]
            if self.threshold is not None:
                out[band >= self.threshold] = 1
            elif self.values:
                for v, cls_ in self.values.items():
                    out[band == v] = cls_
            elif self.scheme.binary:
                out[band > 0] = 1
            else:
                if band.size and int(band.max()) >= self.scheme.num_classes:
                    raise LabelError(
                        f"mask {str(self.path)!r} has value {int(band.max())} but the scheme has "
                        f"{self.scheme.num_classes} classes",
                        param="mask_values",
                        hint="give a value map as `mask_values`, e.g. 255=1",
                    )
                out[:] = band.astype(np.uint8)
        out[~valid] = self.scheme.ignore_index
        return out


def open_labels(
    path: str | os.PathLike[str],
    scheme: ClassScheme,
    raster: RasterSource,
    class_field: str | None = None,
    **mask_options: object,
) -> VectorLabels | MaskLabels:
    """Open labels for ``raster``: a raster mask by extension, else a vector file."""
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(
            f"labels {str(p)!r} do not exist", value=str(p), hint="check the path"
        )
    if p.suffix.lower() in RASTER_SUFFIXES:
        gsd = raster.grid.pixel_m if raster.grid.crs is None else None
        mask = MaskLabels(p, scheme, gsd=gsd, **mask_options)  # type: ignore[arg-type]
        _match_mask(mask, raster)
        return mask
    return VectorLabels(p, scheme, raster.grid, class_field=class_field)


def _match_mask(mask: MaskLabels, raster: RasterSource) -> None:
    """A mask without georeferencing lies on its image's pixels: it must have the image's size."""
    src = mask._src
    if src.georeferenced:
        return  # on the ground: read into any image grid
    if (src.width, src.height) != (raster.width, raster.height):
        src.close()
        raise DataError(
            f"mask {str(mask.path)!r} is {src.width}x{src.height} px but its image "
            f"{str(raster.path)!r} is {raster.width}x{raster.height} px; pair each image with "
            "its own mask (a mask without georeferencing covers its image pixel for pixel)",
            param="labels",
            value=str(mask.path),
            hint="give the mask made for this image (same size), or georeference both",
        )
    src.grid = raster.grid  # the same pixels: read the mask on the image's grid
