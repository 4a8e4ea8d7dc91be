"""The parameters of one "Map roads" run: built by the dialog, consumed by the runner."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from .errors import InputError

AreaMode = Literal["canvas", "layer", "selection"]
AREA_MODES: tuple[AreaMode, ...] = ("canvas", "layer", "selection")
AREA_LABELS: dict[str, str] = {
    "canvas": "Current map extent",
    "layer": "Whole raster layer",
    "selection": "Selected polygon features",
}
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Outputs:
    """Which results become layers."""

    polygons: bool = True
    centrelines: bool = True
    class_raster: bool = False

    @property
    def vectors(self) -> bool:
        """Whether the run needs the engine to vectorise.

        >>> Outputs(polygons=False, centrelines=False, class_raster=True).vectors
        False
        """
        return self.polygons or self.centrelines

    @property
    def any(self) -> bool:
        """Whether at least one output is chosen."""
        return self.vectors or self.class_raster


@dataclass(frozen=True)
class RunParameters:
    """Everything one prediction run needs, validated at construction.

    Attributes:
        raster_path: File the engine reads (a GDAL raster on disk).
        raster_name: Layer name, used for the run name.
        bbox: Area to map (minx, miny, maxx, maxy) in ``bbox_crs``.
        bbox_crs: CRS of ``bbox`` as the engine takes it (``"EPSG:32611"`` or WKT).
        output_dir: Folder for the run's GeoPackage and raster.
        outputs: Which results to add as layers.
        model: Model file, or None for the engine's embedded default model.
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        tile, overlap, batch_size: Engine options; None keeps the model's default.
        area_mode: Where the area came from (for messages).
        run_name: Name of the layer group and stem of the output files.
        area_km2: Area to map in km² (for the estimate and the summary).
        aoi_geojson: Polygons to map inside (GeoJSON FeatureCollection, EPSG:4326), for
            the "selected polygons" area; outside them the class raster is nodata.

    """

    raster_path: str
    raster_name: str
    bbox: BBox
    bbox_crs: str
    output_dir: str
    outputs: Outputs = field(default_factory=Outputs)
    model: str | None = None
    device: str = "auto"
    tile: int | None = None
    overlap: int | None = None
    batch_size: int | None = None
    area_mode: AreaMode = "canvas"
    run_name: str = ""
    area_km2: float = 0.0
    aoi_geojson: str | None = None

    def __post_init__(self) -> None:
        if not self.raster_path:
            raise InputError("Choose a raster layer to map roads on.")
        if len(self.bbox) != 4 or not all(math.isfinite(v) for v in self.bbox):
            raise InputError(f"The area {self.bbox!r} is not a valid rectangle.")
        minx, miny, maxx, maxy = self.bbox
        if not (maxx > minx and maxy > miny):
            raise InputError(
                "The area to map is empty: choose another map extent, layer or selection."
            )
        if not self.bbox_crs:
            raise InputError("The area has no CRS: give the raster layer a CRS first.")
        if not self.output_dir:
            raise InputError("Choose an output folder (or tick 'Temporary folder').")
        if not self.outputs.any:
            raise InputError(
                "Choose at least one output: road polygons, centrelines or class raster."
            )
        if self.device not in DEVICES:
            raise InputError(f"Unknown device {self.device!r}; choose one of {', '.join(DEVICES)}.")
        if self.tile is not None and not 32 <= self.tile <= 8192:
            raise InputError(f"Tile size {self.tile} px is out of range: use 32 to 8192 px.")
        if self.overlap is not None:
            tile = self.tile or 512
            if not 0 <= self.overlap < tile // 2:
                raise InputError(
                    f"Overlap {self.overlap} px must be at least 0 and less than half the tile "
                    f"({tile} px)."
                )
        if self.batch_size is not None and not 1 <= self.batch_size <= 1024:
            raise InputError(f"Batch size {self.batch_size} is out of range: use 1 to 1024.")
        if self.area_mode not in AREA_MODES:
            raise InputError(f"Unknown area {self.area_mode!r}; choose one of {AREA_MODES}.")


def safe_name(text: str, fallback: str = "raster") -> str:
    """Return a file-name friendly version of a layer name.

    >>> safe_name("Vegas img 0 (RGB).tif")
    'Vegas_img_0_RGB_tif'
    >>> safe_name("///")
    'raster'
    """
    out = re.sub(r"[^0-9A-Za-z_-]+", "_", text).strip("_")
    return out[:60] or fallback


def default_run_name(raster_name: str, stamp: str) -> str:
    """Return the run's group name: ``Roads <raster> <stamp>``.

    >>> default_run_name("vegas", "2024-05-01 10:00")
    'Roads vegas 2024-05-01 10:00'
    """
    return f"Roads {raster_name} {stamp}".strip()
