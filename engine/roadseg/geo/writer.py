"""Writing tiled, compressed GeoTIFF (or COG) windows on a grid, atomically.

:class:`GeoTiffWriter` opens a temporary tiled GeoTIFF, accepts windows as they
are computed (memory bounded by the window), and on :meth:`commit` renames it
into place, converting to a Cloud-Optimised GeoTIFF first when asked.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window

from roadseg.errors import OutputError
from roadseg.geo.atomic import _remove, check_writable, temp_path_for
from roadseg.geo.grid import Grid


class GeoTiffWriter:
    """Write windows of a raster on ``grid``; commit atomically.

    Args:
        path: Final output path.
        grid: Output grid (CRS, transform, size); plain images keep pixel coordinates.
        count: Number of bands.
        dtype: numpy dtype name (``"uint8"``, ``"float32"``...).
        nodata: Nodata value, or None.
        cog: Convert to a Cloud-Optimised GeoTIFF (with overviews) on commit.
        blocksize: Internal tile size (multiple of 16).
        compress: GDAL compression (``deflate``, ``lzw``, ``zstd``...).
        colormap: Optional palette for band 1 ({value: (r, g, b, a)}).
        descriptions: Optional band descriptions.
        tags: Optional dataset metadata tags.

    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        grid: Grid,
        count: int,
        dtype: str,
        nodata: float | None = None,
        cog: bool = False,
        blocksize: int = 512,
        compress: str = "deflate",
        colormap: dict[int, tuple[int, int, int, int]] | None = None,
        descriptions: list[str] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> None:
        self.path = check_writable(path)
        self.grid = grid
        self.cog = cog
        self._tmp = temp_path_for(self.path)
        bs = max(16, min(blocksize, 1 << 12) // 16 * 16)
        profile: dict[str, Any] = {
            "driver": "GTiff",
            "width": grid.width,
            "height": grid.height,
            "count": count,
            "dtype": dtype,
            "crs": grid.crs,
            "transform": grid.transform,
            "nodata": nodata,
            "compress": compress,
            "tiled": True,
            "blockxsize": bs,
            "blockysize": bs,
            "BIGTIFF": "IF_SAFER",
        }
        if compress in ("deflate", "lzw", "zstd"):
            profile["predictor"] = 2 if np.dtype(dtype).kind in "iu" else 3
        if grid.crs is None:
            profile.pop("crs")
            if grid.transform == rasterio.Affine.identity():
                profile.pop("transform")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                self._ds = rasterio.open(self._tmp, "w", **profile)
        except (RasterioIOError, OSError) as exc:
            raise OutputError(
                f"cannot write {str(self.path)!r}: {exc}",
                value=str(self.path),
                hint="choose a writable location",
            ) from None
        if colormap:
            self._ds.write_colormap(1, colormap)
        if descriptions:
            for i, d in enumerate(descriptions[:count], start=1):
                self._ds.set_band_description(i, d)
        if tags:
            self._ds.update_tags(**{k: str(v) for k, v in tags.items()})
        self._done = False

    def write(self, data: np.ndarray, window: Window) -> None:
        """Write a (bands, H, W) or (H, W) array at ``window``."""
        if data.ndim == 2:
            data = data[None]
        self._ds.write(data, window=window)

    def write_mask(self, valid: np.ndarray, window: Window) -> None:
        """Write the per-dataset validity mask (True = data) of an (H, W) window.

        For outputs whose every value is meaningful (e.g. probabilities 0–255), so
        no nodata value can be reserved: GIS software reads the internal mask.
        """
        self._ds.write_mask(np.where(valid, 255, 0).astype(np.uint8), window=window)

    def commit(self) -> Path:
        """Finish the file and move it into place (converting to COG if asked)."""
        self._ds.close()
        src = self._tmp
        if self.cog:
            cog_tmp = temp_path_for(self.path)
            try:
                from rasterio.shutil import copy as rio_copy

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", NotGeoreferencedWarning)
                    rio_copy(
                        src,
                        cog_tmp,
                        driver="COG",
                        compress="DEFLATE",
                        overview_resampling="nearest",
                    )
            except BaseException:
                _remove(cog_tmp)
                raise
            finally:
                _remove(src)
            src = cog_tmp
        os.replace(src, self.path)
        _remove(src.with_name(src.name + ".aux.xml"))
        self._done = True
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file; the final path is untouched."""
        try:
            self._ds.close()
        finally:
            _remove(self._tmp)
            _remove(self._tmp.with_name(self._tmp.name + ".aux.xml"))

    def __enter__(self) -> GeoTiffWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and not self._done:
            self.commit()
        elif not self._done:
            self.abort()
