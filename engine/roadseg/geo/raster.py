"""Reading georeferenced rasters window by window.

:class:`RasterSource` opens any GDAL raster (GeoTIFF, COG, VRT, JP2, PNG...) and
reads windows either in the raster's own grid or resampled into any target
:class:`~roadseg.geo.grid.Grid` (another resolution, another CRS). Values are
scaled to float32 in [0, 1] with a declared :class:`~roadseg.geo.normalize.Scaling`;
nodata, alpha and internal masks become a boolean validity mask. Nothing ever
reads a whole raster unless the window is the whole raster.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from roadseg.errors import ConfigError, CRSError, InputNotFoundError, RasterReadError
from roadseg.errors import warn as roadseg_warn
from roadseg.geo.grid import Grid, metric_crs_for
from roadseg.geo.normalize import Scaling
from roadseg.geo.paths import RasterPath, as_source, is_gdal_path

ResamplingName = Literal["nearest", "bilinear", "cubic", "average", "mode", "lanczos"]


@dataclass(frozen=True, slots=True)
class RasterWindow:
    """Pixels read from a raster into a grid.

    Attributes:
        data: float32 array (bands, H, W) scaled to [0, 1]; 0 where invalid.
        valid: bool array (H, W): True where every band has data.
        grid: The grid the pixels lie on.

    """

    data: np.ndarray
    valid: np.ndarray
    grid: Grid


def _check_exists(path: str | os.PathLike[str], what: str = "raster") -> RasterPath:
    """The path as GDAL should get it; a missing local file or a folder is refused."""
    p = as_source(path)
    if isinstance(p, str):
        return p  # /vsi…, URLs, zip://: GDAL says whether it can read them
    if not p.exists():
        raise InputNotFoundError(
            f"{what} {str(p)!r} does not exist", value=str(p), hint="check the path"
        )
    if p.is_dir():
        raise RasterReadError(
            f"{what} {str(p)!r} is a folder", value=str(p), hint="give a raster file"
        )
    return p


def is_rotated(ds: Any) -> bool:
    """Whether a dataset's geotransform has rotation or shear terms."""
    t = ds.transform
    return bool(t.b != 0 or t.d != 0)


_TOLD_ROTATED: set[str] = set()


def _north_up(
    ds: rasterio.io.DatasetReader, resampling: str, nodata_fill: float | None
) -> rasterio.io.DatasetReaderBase:
    """A north-up view of a rotated or sheared raster (GDAL's warped VRT, read on the fly)."""
    kw: dict[str, Any] = {"resampling": Resampling[resampling]}
    if ds.nodata is None and nodata_fill is not None:
        kw["nodata"] = nodata_fill
    elif ds.nodata is None and not any(ci == ColorInterp.alpha for ci in ds.colorinterp):
        kw["add_alpha"] = True  # the corners outside the rotated footprint become invalid
    vrt = _OwnedWarpedVRT(ds, **kw)
    name = str(ds.name)
    if name not in _TOLD_ROTATED:
        _TOLD_ROTATED.add(name)
        roadseg_warn(
            f"{name!r} has a rotated or sheared geotransform: it is read through a north-up "
            f"warp ({resampling}) and the outputs are on that north-up grid "
            f"({vrt.width}x{vrt.height} px)"
        )
    return vrt


class _OwnedWarpedVRT(WarpedVRT):  # type: ignore[misc]  # rasterio is untyped
    """A warped VRT that closes its source dataset with itself."""

    def close(self) -> None:
        """Close the VRT and the raster under it."""
        try:
            super().close()
        finally:
            self.src_dataset.close()


def open_dataset(
    path: str | os.PathLike[str],
    what: str = "raster",
    hint: str = "",
    resampling: str = "nearest",
    nodata_fill: float | None = None,
) -> tuple[RasterPath, Any]:
    """Open any GDAL raster for reading, with the engine's errors (the one raster-open helper).

    Local files, ``/vsi…`` paths, URLs and ``zip://…!/…`` paths all open as GDAL
    opens them. A raster with a rotated or sheared geotransform is read through a
    north-up warped VRT (a warning says so): the engine works on north-up grids.

    Args:
        path: The raster.
        what: How messages call it (``"raster"``, ``"class raster"``...).
        hint: The fix to suggest when GDAL cannot read it.
        resampling: How a rotated raster is resampled onto its north-up grid.
        nodata_fill: Nodata value of that north-up view when the raster has none
            (default: an alpha band marks the corners outside the raster).

    Raises:
        InputNotFoundError: it does not exist.
        RasterReadError: it is a folder, or GDAL cannot read it.

    """
    p = _check_exists(path, what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            ds = rasterio.open(p)
    except RasterioIOError as exc:
        raise RasterReadError(
            f"{what} {str(p)!r} is not a raster GDAL can read ({_gdal_reason(exc, p)})",
            value=str(p),
            hint=hint
            or (
                "check the address (GDAL paths: /vsizip/…, /vsicurl/…, https://…)"
                if is_gdal_path(p)
                else "give a GeoTIFF, COG, VRT, JP2, PNG or JPEG file"
            ),
        ) from None
    if is_rotated(ds):
        try:
            return p, _north_up(ds, resampling, nodata_fill)
        except Exception as exc:  # noqa: BLE001 - GDAL cannot warp it: say so, keep it one line
            ds.close()
            raise RasterReadError(
                f"{what} {str(p)!r} has a rotated geotransform that cannot be warped north-up "
                f"({_first_line(exc)})",
                value=str(p),
                hint="warp it north-up first (gdalwarp in.tif out.tif)",
            ) from None
    return p, ds


def _gdal_reason(exc: BaseException, path: RasterPath) -> str:
    """GDAL's reason without the path it repeats.

    >>> _gdal_reason(OSError("'x.tif' not recognized as being in a supported file format."), "x.tif")
    'not recognized as being in a supported file format'
    """
    text = _first_line(exc).replace(f"'{path}'", "").replace(str(path), "")
    text = text.strip(" .:")
    return text or "unreadable"


def is_georeferenced(ds: rasterio.io.DatasetReader) -> bool:
    """True when a dataset has a CRS and a geotransform (not the identity)."""
    return ds.crs is not None and ds.transform != Affine.identity()


def dataset_grid(ds: rasterio.io.DatasetReader, gsd: float | None = None) -> Grid | None:
    """The grid of a dataset: its own when georeferenced, else pixels of ``gsd`` metres.

    None for a raster without georeferencing when no ``gsd`` is given.
    """
    if is_georeferenced(ds):
        return Grid(ds.crs, ds.transform, ds.width, ds.height)
    if gsd is None:
        return None
    return Grid(None, Affine.identity(), ds.width, ds.height, float(gsd))


class RasterSource:
    """An open raster: metadata, windowed and resampled reads.

    Args:
        path: Any GDAL-readable raster.
        bands: 1-based band indexes to read (default: every band that is not alpha).
        scaling: How raw values map to [0, 1] (default: from the dtype and NBITS,
            e.g. 11-bit uint16 → 0..2047).
        gsd: Pixel size in metres for plain images without georeferencing
            (PNG/JPG...). Ignored for georeferenced rasters.

    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        bands: Sequence[int] | None = None,
        scaling: Scaling | None = None,
        gsd: float | None = None,
    ) -> None:
        self.path, self._ds = open_dataset(path, resampling="bilinear")
        ds = self._ds
        self.georeferenced = is_georeferenced(ds)
        self._plain_needs_gsd = not self.georeferenced and gsd is None
        grid = dataset_grid(ds, gsd if gsd is not None else 1.0)
        assert grid is not None  # a pixel size was given
        self.grid: Grid = grid
        self.alpha_band = next(
            (i + 1 for i, ci in enumerate(ds.colorinterp) if ci == ColorInterp.alpha), None
        )
        self.select_bands(bands)
        if scaling is not None:
            self.scaling = scaling

    def select_bands(self, bands: Sequence[int] | None) -> None:
        """Read ``bands`` from now on (None: every band that is not alpha).

        The dtype, NBITS and the default scaling follow the first of them (a scaling
        given before is replaced).
        """
        ds = self._ds
        if bands is None:
            bands = [i for i in range(1, ds.count + 1) if i != self.alpha_band]
        bad = [b for b in bands if not 1 <= int(b) <= ds.count]
        if bad:
            raise ConfigError(
                f"band(s) {bad} do not exist in {str(self.path)!r}, which has {ds.count} band(s)",
                param="bands",
                value=list(bands),
                hint=f"choose `bands` from 1..{ds.count}",
            )
        before = getattr(self, "bands", None)
        self.bands = tuple(int(b) for b in bands)
        if before is None or before[0] != self.bands[0]:  # the bit-depth probe reads pixels
            self.dtype = ds.dtypes[self.bands[0] - 1]
            self.nbits = self._nbits()
        self.scaling = Scaling.for_dtype(self.dtype, self.nbits)

    # ------------------------------------------------------------------ metadata
    def _nbits(self) -> int | None:
        ds = self._ds
        for ns_tags in (
            ds.tags(ns="IMAGE_STRUCTURE"),
            ds.tags(self.bands[0], ns="IMAGE_STRUCTURE"),
        ):
            if "NBITS" in ns_tags:
                return int(ns_tags["NBITS"])
        if self.dtype == "uint16":
            # No NBITS tag: look at a decimated read to tell 11/12/14-bit data apart.
            h = min(ds.height, 512)
            w = min(ds.width, 512)
            sample = ds.read(self.bands[0], out_shape=(h, w), resampling=Resampling.nearest)
            top = int(sample.max()) if sample.size else 0
            for bits in (8, 10, 11, 12, 14):
                if top <= 2**bits - 1 and top > 2 ** (bits - 2):
                    return bits if bits > 8 else None
        return None

    @property
    def crs(self) -> Any:
        """The raster's CRS (None for plain images)."""
        return self.grid.crs

    @property
    def width(self) -> int:
        """Columns."""
        return self._ds.width

    @property
    def height(self) -> int:
        """Rows."""
        return self._ds.height

    @property
    def count(self) -> int:
        """Number of bands in the file (not only the selected ones)."""
        return self._ds.count

    @property
    def nodata(self) -> float | None:
        """The nodata value of the first selected band."""
        return self._ds.nodatavals[self.bands[0] - 1]

    @property
    def dataset(self) -> rasterio.io.DatasetReader:
        """The underlying rasterio dataset (for the I/O edges only)."""
        return self._ds

    def gsd_m(self) -> tuple[float, float]:
        """Ground resolution (x, y) in metres per pixel."""
        return self.grid.gsd_m()

    def require_georeference(self, param: str = "gsd") -> None:
        """Raise a clear error for a plain image whose pixel size was not given.

        Args:
            param: The parameter that gives the pixel size of plain images.

        """
        if self._plain_needs_gsd:
            raise CRSError(
                f"{str(self.path)!r} has no georeferencing (no CRS or geotransform)",
                value=str(self.path),
                hint="georeference it (gdal_translate -a_srs/-a_ullr) or give its pixel size "
                f"in metres as `{param}`",
            )

    def check_readable(self) -> None:
        """Read the first and the last block of the first band: a truncated file fails here.

        Raises:
            RasterReadError: naming the file, when GDAL cannot decode them.

        """
        ds = self._ds
        bh, bw = ds.block_shapes[0] if ds.block_shapes else (1, ds.width)
        last = Window(
            (ds.width - 1) // bw * bw,
            (ds.height - 1) // bh * bh,
            min(bw, ds.width),
            min(bh, ds.height),
        )
        try:
            for win in (Window(0, 0, min(bw, ds.width), min(bh, ds.height)), last):
                ds.read(self.bands[0], window=win.intersection(Window(0, 0, ds.width, ds.height)))
        except (RasterioIOError, ValueError) as exc:
            raise RasterReadError(
                f"{str(self.path)!r} cannot be read: it is truncated or corrupt ({_first_line(exc)})",
                value=str(self.path),
                hint="copy or download it again",
            ) from None

    def info(self) -> dict[str, Any]:
        """Describe the raster: CRS, size, resolution, bands, dtypes, nodata, blocks, bounds."""
        ds = self._ds
        self.check_readable()
        crs = ds.crs
        src = getattr(ds, "src_dataset", ds)  # a rotated raster is read through a warp
        out: dict[str, Any] = {
            "path": str(self.path),
            "driver": src.driver,
            "north_up_warp": src is not ds,
            "width": ds.width,
            "height": ds.height,
            "count": ds.count,
            "dtypes": list(ds.dtypes),
            "nodata": list(ds.nodatavals),
            "colorinterp": [ci.name for ci in ds.colorinterp],
            "band_descriptions": list(ds.descriptions),
            "alpha_band": self.alpha_band,
            "nbits": self.nbits,
            "block_shapes": [list(b) for b in ds.block_shapes],
            "overviews": ds.overviews(1),
            "compression": ds.compression.name if ds.compression else None,
            "georeferenced": self.georeferenced,
            "crs": None,
            "transform": list(ds.transform)[:6],
            "bounds": list(ds.bounds),
        }
        if crs is not None:
            epsg = crs.to_epsg()
            out["crs"] = f"EPSG:{epsg}" if epsg else crs.to_wkt()
            out["crs_name"] = crs.to_dict().get("proj", "") if not epsg else _crs_name(crs)
            out["crs_units"] = "degree" if crs.is_geographic else (crs.linear_units or "unknown")
            out["bounds_wgs84"] = list(_bounds_wgs84(self.grid))
        gx, gy = self.gsd_m()
        out["gsd_m"] = [gx, gy] if self.georeferenced else None
        out["res"] = list(ds.res)
        return out

    # ------------------------------------------------------------------ reading
    def read(
        self,
        window: Window | None = None,
        out_shape: tuple[int, int] | None = None,
        resampling: ResamplingName = "bilinear",
    ) -> RasterWindow:
        """Read a window in the raster's own grid, optionally resampled to ``out_shape``.

        The window may reach outside the raster (pixels there are invalid, 0).
        """
        if window is None:
            window = Window(0, 0, self.width, self.height)
        grid = self.grid.window_grid(
            Window(
                window.col_off, window.row_off, int(round(window.width)), int(round(window.height))
            )
        )
        if out_shape is not None:
            fx = window.width / out_shape[1]
            fy = window.height / out_shape[0]
            t = (
                self.grid.transform
                @ Affine.translation(window.col_off, window.row_off)
                @ Affine.scale(fx, fy)
            )
            pm = grid.pixel_m * fx if grid.pixel_m is not None else None
            grid = Grid(self.grid.crs, t, out_shape[1], out_shape[0], pm)
        return self.read_grid(grid, resampling)

    def read_grid(self, grid: Grid, resampling: ResamplingName = "bilinear") -> RasterWindow:
        """Read the raster resampled into any target grid (same or other CRS)."""
        raw, mask = self.read_raw(grid, resampling)
        data = self.scaling.apply(raw)
        data[:, ~mask] = 0.0
        return RasterWindow(data, mask, grid)

    def read_raw(
        self, grid: Grid, resampling: ResamplingName = "nearest"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Read raw band values (the file's dtype) into ``grid``; return (data, valid)."""
        rs = Resampling[resampling]
        if grid.crs is None or self.grid.crs is None or grid.crs == self.grid.crs:
            return self._read_same_crs(grid, rs)
        return self._read_warped(grid, rs)

    def _read_same_crs(self, grid: Grid, rs: Resampling) -> tuple[np.ndarray, np.ndarray]:
        """Read a grid in the raster's CRS: intersect, read the overlap with out_shape."""
        h, w = grid.shape
        raw = np.zeros((len(self.bands), h, w), dtype=self.dtype)
        mask = np.zeros((h, w), dtype=bool)
        # Target pixel (col, row) → source pixel coordinates.
        to_src = ~self.grid.transform @ grid.transform
        sx, sy = to_src.a, to_src.e  # source pixels per target pixel
        c0, r0 = to_src.c, to_src.f
        # Target pixel range whose source footprint overlaps the raster.
        tc0 = max(0, int(np.floor((0 - c0) / sx)))
        tc1 = min(w, int(np.ceil((self.width - c0) / sx)))
        tr0 = max(0, int(np.floor((0 - r0) / sy)))
        tr1 = min(h, int(np.ceil((self.height - r0) / sy)))
        if tc1 <= tc0 or tr1 <= tr0:
            return raw, mask
        # Clip to whole target pixels fully inside the raster where possible.
        while tc0 < tc1 and c0 + tc0 * sx < -1e-6:
            tc0 += 1
        while tc1 > tc0 and c0 + tc1 * sx > self.width + 1e-6:
            tc1 -= 1
        while tr0 < tr1 and r0 + tr0 * sy < -1e-6:
            tr0 += 1
        while tr1 > tr0 and r0 + tr1 * sy > self.height + 1e-6:
            tr1 -= 1
        if tc1 <= tc0 or tr1 <= tr0:
            return raw, mask
        src_win = Window(c0 + tc0 * sx, r0 + tr0 * sy, (tc1 - tc0) * sx, (tr1 - tr0) * sy)
        shape = (tr1 - tr0, tc1 - tc0)
        try:
            raw[:, tr0:tr1, tc0:tc1] = self._ds.read(
                self.bands, window=src_win, out_shape=(len(self.bands), *shape), resampling=rs
            )
            m = self._ds.dataset_mask(
                window=src_win, out_shape=shape, resampling=Resampling.nearest
            )
        except RasterioIOError as exc:
            raise RasterReadError(f"cannot read {str(self.path)!r}: {_first_line(exc)}") from None
        mask[tr0:tr1, tc0:tc1] = m > 0
        if self.nodata is not None and self.alpha_band is None:
            # dataset_mask covers nodata; also catch resampled edge values.
            sub = raw[:, tr0:tr1, tc0:tc1]
            mask[tr0:tr1, tc0:tc1] &= ~np.all(
                sub == np.asarray(self.nodata, dtype=sub.dtype), axis=0
            )
        return raw, mask

    def _read_warped(self, grid: Grid, rs: Resampling) -> tuple[np.ndarray, np.ndarray]:
        """Read a grid in another CRS through a warped VRT (only the needed blocks are read)."""
        try:
            with WarpedVRT(
                self._ds,
                crs=grid.crs,
                transform=grid.transform,
                width=grid.width,
                height=grid.height,
                resampling=rs,
            ) as vrt:
                raw = vrt.read(self.bands)
                m = vrt.dataset_mask()
        except RasterioIOError as exc:
            raise RasterReadError(f"cannot read {str(self.path)!r}: {_first_line(exc)}") from None
        return raw, m > 0

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the file handle."""
        self._ds.close()

    def __enter__(self) -> RasterSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the handle: DataLoader workers each reopen the file."""
        state = self.__dict__.copy()
        state.pop("_ds", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        _, self._ds = open_dataset(self.path, resampling="bilinear")


def open_raster(
    path: str | os.PathLike[str],
    bands: Sequence[int] | None = None,
    scaling: Scaling | None = None,
    gsd: float | None = None,
) -> RasterSource:
    """Open a raster for windowed reads (see :class:`RasterSource`)."""
    return RasterSource(path, bands=bands, scaling=scaling, gsd=gsd)


def raster_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return :meth:`RasterSource.info` for a path."""
    with open_raster(path) as src:
        return src.info()


def _bounds_wgs84(grid: Grid) -> tuple[float, float, float, float]:
    from rasterio.warp import transform_bounds

    return tuple(transform_bounds(grid.crs, "EPSG:4326", *grid.bounds, densify_pts=21))


def _crs_name(crs: Any) -> str:
    try:
        from pyproj import CRS as PCRS

        return str(PCRS.from_user_input(crs.to_wkt()).name)
    except Exception:  # noqa: BLE001 - the name is cosmetic
        return ""


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


__all__ = ["RasterSource", "RasterWindow", "open_raster", "raster_info", "metric_crs_for"]
