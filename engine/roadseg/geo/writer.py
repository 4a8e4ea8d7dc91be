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
from roadseg.geo.atomic import (
    check_writable,
    publish,
    remove,
    remove_sidecars,
    temp_path_for,
    writing,
)
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
        #: Upper bound of the file's size (uncompressed), for a full disk's message.
        self.needed = grid.width * grid.height * count * np.dtype(dtype).itemsize
        try:
            with writing(self.path, self.needed), warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                self._ds = rasterio.open(self._tmp, "w", **profile)
        except (RasterioIOError, OSError) as exc:
            if isinstance(exc, OutputError):
                raise
            raise OutputError(
                f"cannot write {str(self.path)!r}: {str(exc).splitlines()[0]}",
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
        with writing(self.path, self.needed):
            self._ds.write(data, window=window)

    def write_mask(self, valid: np.ndarray, window: Window) -> None:
        """Write the per-dataset validity mask (True = data) of an (H, W) window.

        For outputs whose every value is meaningful (e.g. probabilities 0–255), so
        no nodata value can be reserved: GIS software reads the internal mask.
        """
        with writing(self.path, self.needed):
            self._ds.write_mask(np.where(valid, 255, 0).astype(np.uint8), window=window)

    def finish(self) -> Path:
        """Close the file (converting it to a COG if asked); return the finished temporary file.

        Nothing is renamed: :meth:`commit` (or the run's
        :class:`~roadseg.geo.staging.OutputSet`) does that.
        """
        with writing(self.path, self.needed):
            self._ds.close()
        if not self.cog:
            return self._tmp
        cog_tmp = temp_path_for(self.path)
        try:
            from rasterio.shutil import copy as rio_copy

            with writing(self.path, self.needed), warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                rio_copy(
                    self._tmp,
                    cog_tmp,
                    driver="COG",
                    compress="DEFLATE",
                    overview_resampling="nearest",
                )
        except BaseException:
            remove(cog_tmp)
            raise
        finally:
            remove(self._tmp)
            remove_sidecars(self._tmp)
        self._tmp = cog_tmp
        return cog_tmp

    def commit(self) -> Path:
        """Finish the file and move it into place (at the run's commit inside an OutputSet)."""
        src = self.finish()
        remove_sidecars(src)
        try:
            publish(src, self.path)
        except BaseException:
            remove(src)
            raise
        self._done = True
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file; the final path is untouched."""
        try:
            self._ds.close()
        except Exception:  # noqa: BLE001 - closing a file on a full disk fails too
            pass
        finally:
            remove(self._tmp)
            remove_sidecars(self._tmp)

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
