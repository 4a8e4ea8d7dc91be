"""Preparing one raster for prediction: bands, scaling, georeference, extent, grids, tiles.

Every check that can fail on user input runs here, for every raster, before any
compute starts: a bad third raster fails the run in a second, not after an hour.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from roadseg.errors import ConfigError, RoadsegWarning, log_warning
from roadseg.geo.grid import SAME_GSD_TOLERANCE, Grid, model_grid
from roadseg.geo.normalize import Scaling, parse_scaling
from roadseg.geo.paths import RasterPath, name_of
from roadseg.geo.raster import RasterSource, open_raster
from roadseg.models import ModelMeta
from roadseg.prediction.extent import Extent, resolve_extent
from roadseg.prediction.options import PredictOptions
from roadseg.prediction.outputs import OutputPaths
from roadseg.prediction.tiling import TileLayout
from roadseg.prediction.working import resolve_working_gsd, trained_jitter

#: Rasters whose ground resolution is within this fraction of the working one are not resampled;
#: the rule (:func:`roadseg.geo.grid.model_grid`) is training's too, so the network sees
#: imagery resampled the way it was trained.
RESAMPLE_TOLERANCE = SAME_GSD_TOLERANCE


@dataclass(frozen=True)
class TileSettings:
    """Sliding-window settings.

    Attributes:
        tile: Tile side in pixels of the working grid (a multiple of ``stride``).
        overlap: Pixels of the working grid shared by neighbouring tiles.
        batch_size: Tiles per network call.
        gsd_m: The working resolution: ground metres per pixel the network runs at (the
            model's own unless ``working_gsd`` says otherwise).
        stride: The network's output stride.

    """

    tile: int
    overlap: int
    batch_size: int
    gsd_m: float
    stride: int = 32

    @classmethod
    def resolve(
        cls,
        meta: ModelMeta,
        tile: int | None,
        overlap: int | None,
        batch_size: int | None,
        *,
        stride: int,
        default_batch: int,
        gsd_m: float | None = None,
    ) -> TileSettings:
        """Defaults from the model (tile = meta.tile_size, overlap = tile / 4), validated.

        ``gsd_m`` is the working resolution from :func:`working_resolution` (default: the
        model's own).

        >>> from roadseg.models import ModelMeta
        >>> m = ModelMeta("Unet", "resnet18", 3, ("background", "road"), ((0, 0, 0), (1, 1, 1)),
        ...               (0, 6), 0.5, 256)
        >>> TileSettings.resolve(m, None, None, None, stride=32, default_batch=2)
        TileSettings(tile=256, overlap=64, batch_size=2, gsd_m=0.5, stride=32)
        """
        t = int(tile if tile is not None else meta.tile_size or 512)
        if t < stride or t % stride:
            lo = max(stride, t // stride * stride)
            raise ConfigError(
                f"`tile` {t} must be a multiple of {stride} (the model's output stride)",
                param="tile",
                value=t,
                hint=f"try `tile` {lo} or {lo + stride}",
            )
        o = t // 4 if overlap is None else int(overlap)
        if not 0 <= o <= t // 2:
            raise ConfigError(
                f"`overlap` {o} must be between 0 and half the tile ({t // 2})",
                param="overlap",
                value=o,
            )
        b = int(batch_size if batch_size is not None else default_batch)
        if b < 1:
            raise ConfigError(f"`batch_size` {b} must be at least 1", param="batch_size", value=b)
        g = float(meta.gsd_m if gsd_m is None else gsd_m)
        return cls(tile=t, overlap=o, batch_size=b, gsd_m=g, stride=stride)


def working_resolution(
    meta: ModelMeta, options: PredictOptions
) -> tuple[float, list[RoadsegWarning]]:
    """The resolution the network runs at (``options.working_gsd`` or the model's), checked.

    Returns the resolution and warnings (already logged) for the run's result; raises
    :class:`~roadseg.errors.ConfigError` naming ``working_gsd`` for a resolution too far
    from the model's (:func:`~roadseg.prediction.working.resolve_working_gsd`).
    """
    gsd, notes = resolve_working_gsd(meta.gsd_m, options.working_gsd, trained_jitter(meta.training))
    for w in notes:
        log_warning(w)
    return gsd, notes


@dataclass
class RasterJob:
    """One raster ready to predict.

    Attributes:
        src: The open raster (bands and scaling set).
        paths: Output files.
        extent: Window (and polygons) to predict.
        out_grid: Output grid: the input grid or its window.
        work: Output grid at the working resolution (``TileSettings.gsd_m``).
        layout: Tiles over ``work``.
        warnings: Notes for the user (bands taken, scaling changed...).
        resampling: How imagery is read into ``work`` (``bilinear``, ``average``, or
            ``nearest`` when ``work`` is the raster's own grid).

    """

    src: RasterSource
    paths: OutputPaths
    extent: Extent
    out_grid: Grid
    work: Grid
    layout: TileLayout
    warnings: list[RoadsegWarning]
    resampling: str = "bilinear"

    @property
    def megapixels(self) -> float:
        """Output (input-grid) megapixels."""
        return self.out_grid.width * self.out_grid.height / 1e6


def _choose_bands(
    path: RasterPath,
    count: int,
    alpha: int | None,
    meta: ModelMeta,
    bands: Sequence[int] | None,
    model_name: str,
    warnings: list[RoadsegWarning],
) -> tuple[int, ...]:
    need = meta.in_channels
    if bands is not None:
        if len(bands) != need:
            raise ConfigError(
                f"`bands` {','.join(map(str, bands))} gives {len(bands)} band(s) but model "
                f"{model_name!r} needs {need}",
                param="bands",
                value=list(bands),
                hint=f"give {need} band numbers",
            )
        return tuple(int(b) for b in bands)
    if meta.bands is not None:
        return tuple(meta.bands)
    usable = [i for i in range(1, count + 1) if i != alpha]
    if len(usable) < need:
        hint = ",".join(str(i) for i in range(1, need + 1))
        raise ConfigError(
            f"{str(path)!r} has {len(usable)} usable band(s)"
            + (f" (band {alpha} is alpha)" if alpha else "")
            + f" but model {model_name!r} needs {need}",
            param="rasters",
            value=str(path),
            hint=f"give a {need}-band image (or choose bands with `bands` {hint} if it has them)",
        )
    if len(usable) > need:
        chosen = tuple(usable[:need])
        warnings.append(
            RoadsegWarning(
                f"{name_of(path)}: {len(usable)} bands, the model takes {need}: using bands "
                f"{','.join(map(str, chosen))} (choose others with `bands`)"
            )
        )
        return chosen
    return tuple(usable)


def _choose_scaling(
    src: RasterSource,
    meta: ModelMeta,
    scaling: str | Scaling | None,
    warnings: list[RoadsegWarning],
) -> Scaling:
    if isinstance(scaling, Scaling):
        return scaling
    if scaling is not None:
        try:
            return parse_scaling(scaling, src.dtype, src.nbits)
        except ValueError as exc:
            raise ConfigError(str(exc), param="scaling", value=scaling) from None
    own = Scaling.for_dtype(src.dtype, src.nbits)
    top_model, top_own = max(meta.scaling.high), max(own.high)
    if top_model > top_own * 1.01 or top_own > 4 * top_model:
        warnings.append(
            RoadsegWarning(
                f"{name_of(src.path)}: the model was trained on values 0..{top_model:g} but this "
                f"{src.dtype} raster holds 0..{top_own:g}; scaling it by its own range "
                "(set `scaling` LOW,HIGH to override)"
            )
        )
        return own
    return meta.scaling


def prepare_job(
    path: str | os.PathLike[str],
    paths: OutputPaths,
    meta: ModelMeta,
    model_name: str,
    settings: TileSettings,
    options: PredictOptions,
) -> RasterJob:
    """Open and check one raster and lay out its tiles (bands, scaling, extent from ``options``)."""
    gsd, bands = options.gsd, options.bands
    warnings: list[RoadsegWarning] = []
    src = open_raster(path, gsd=gsd)  # opened once: checked, then its bands chosen
    try:
        src.check_readable()  # a truncated file fails now, not after an hour
        src.require_georeference("gsd")
        if gsd is not None and src.georeferenced:
            warnings.append(
                RoadsegWarning(f"{name_of(src.path)} is georeferenced: `gsd` is ignored")
            )
        src.select_bands(
            _choose_bands(src.path, src.count, src.alpha_band, meta, bands, model_name, warnings)
        )
        src.scaling = _choose_scaling(src, meta, options.scaling, warnings)
        name = repr(str(src.path))
        extent = resolve_extent(src.grid, name, options.bbox, options.bbox_crs, options.extent_file)
        out_grid = src.grid.window_grid(extent.window)
        work, resampling = model_grid(out_grid, settings.gsd_m, RESAMPLE_TOLERANCE)
        layout = TileLayout.build(
            work.height, work.width, settings.tile, settings.overlap, settings.stride
        )
    except BaseException:
        src.close()
        raise
    for w in warnings:
        log_warning(w)
    return RasterJob(
        src=src,
        paths=paths,
        extent=extent,
        out_grid=out_grid,
        work=work,
        layout=layout,
        warnings=warnings,
        resampling=resampling,
    )
