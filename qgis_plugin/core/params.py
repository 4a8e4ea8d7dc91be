"""The parameters of one "Map roads" run: built by the dialog, consumed by the runner."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from .errors import InputError
from .i18n import tr

AreaMode = Literal["canvas", "layer", "polygons", "selection"]
#: Where the area to map comes from: the map canvas, the whole raster, every polygon of a
#: layer, or the selected polygons of a layer.
AREA_MODES: tuple[AreaMode, ...] = ("canvas", "layer", "polygons", "selection")
#: Area modes whose area is a set of polygons (the engine's ``--extent-file``).
POLYGON_MODES: tuple[AreaMode, ...] = ("polygons", "selection")
#: Coarsest working resolution the plugin passes (m/px); the engine accepts 0.5-2x the model's.
MAX_WORKING_GSD = 100.0
#: Every device name the engine takes; the dialog lists only those found on this machine.
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")

#: Working resolutions the engine accepts, as factors of the model's own (the engine's
#: ``roadseg.prediction.working.MIN_FACTOR``/``MAX_FACTOR``; the plugin never imports roadseg).
WORKING_FACTORS = (0.5, 2.0)

BBox = tuple[float, float, float, float]


def working_gsd_problem(working: float | None, model_gsd: float | None) -> str:
    """Why the engine would refuse ``working`` m/px with a model of ``model_gsd`` ("" if not).

    Checked before a web layer is rendered at that resolution (rendering first and
    failing after would cost the whole render).

    >>> working_gsd_problem(0.4, 0.5), working_gsd_problem(None, 0.5), working_gsd_problem(1, None)
    ('', '', '')
    >>> working_gsd_problem(0.05, 0.5)[:40]
    'Working resolution 0.05 m/px is too far '
    """
    if not working or not model_gsd:
        return ""
    lo, hi = (model_gsd * f for f in WORKING_FACTORS)
    if lo * (1 - 1e-9) <= working <= hi * (1 + 1e-9):
        return ""
    return tr(
        "Working resolution {gsd:g} m/px is too far from the model's {model:g} m/px: use "
        "{lo:g} to {hi:g} m/px, or leave it empty for the model's own."
    ).format(gsd=working, model=model_gsd, lo=lo, hi=hi)


def area_label(mode: str) -> str:
    """Return the dialog's text for an area mode.

    >>> area_label("selection")
    'Selected polygon features'
    """
    labels = {
        "canvas": tr("Current map extent"),
        "layer": tr("Whole raster layer"),
        "polygons": tr("All polygons of a layer"),
        "selection": tr("Selected polygon features"),
    }
    return labels.get(mode, mode)


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
        bbox: Area to map (minx, miny, maxx, maxy) in ``bbox_crs``: the map extent or the
            raster, or the polygons' bounding box (then for the estimate only).
        bbox_crs: CRS of ``bbox`` as the engine takes it (``"EPSG:32611"`` or WKT).
        output_dir: Folder that receives the run's own folder of results.
        outputs: Which results to add as layers.
        model: Model file or embedded model name; None for the engine's default model.
        model_label: How the run names the model (layer group, summary).
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        tile, overlap, batch_size: Engine options; None keeps the model's default.
        working_gsd: Ground resolution (m/px) the network runs at (the engine's
            ``--working-gsd``); None runs at the model's own.
        road_threshold: Road where the road probability reaches this (the engine's
            ``--road-threshold``, between 0 and 1); None uses the model's own.
        area_mode: Where the area came from (see :data:`AREA_MODES`).
        run_name: Name of the layer group.
        area_km2: Area to map in km² (for the estimate and the summary).
        aoi_geojson: The polygons to map inside (GeoJSON FeatureCollection, EPSG:4326) for
            the polygon area modes; the engine gets them as ``--extent-file`` instead of
            ``--bbox`` (it takes one or the other), and outside them the class raster is
            nodata.

    """

    raster_path: str
    raster_name: str
    bbox: BBox
    bbox_crs: str
    output_dir: str
    outputs: Outputs = field(default_factory=Outputs)
    model: str | None = None
    model_label: str = "default model"
    device: str = "auto"
    tile: int | None = None
    overlap: int | None = None
    batch_size: int | None = None
    working_gsd: float | None = None
    road_threshold: float | None = None
    area_mode: AreaMode = "canvas"
    run_name: str = ""
    area_km2: float = 0.0
    aoi_geojson: str | None = None

    def __post_init__(self) -> None:
        if not self.raster_path:
            raise InputError(tr("Choose a raster layer to map roads on."))
        if len(self.bbox) != 4 or not all(math.isfinite(v) for v in self.bbox):
            raise InputError(tr("The area {bbox} is not a valid rectangle.").format(bbox=self.bbox))
        minx, miny, maxx, maxy = self.bbox
        if not (maxx > minx and maxy > miny):
            raise InputError(
                tr("The area to map is empty: choose another map extent, layer or polygons.")
            )
        if not self.bbox_crs:
            raise InputError(tr("The area has no CRS: give the raster layer a CRS first."))
        if not self.output_dir:
            raise InputError(tr("Choose a folder for the results."))
        if not self.outputs.any:
            raise InputError(
                tr("Choose at least one output: road polygons, centrelines or class raster.")
            )
        if self.device not in DEVICES:
            raise InputError(
                tr("Unknown device {device}; choose one of {choices}.").format(
                    device=repr(self.device), choices=", ".join(DEVICES)
                )
            )
        if self.tile is not None and not 32 <= self.tile <= 8192:
            raise InputError(
                tr("Tile size {tile} px is out of range: use 32 to 8192 px.").format(tile=self.tile)
            )
        if self.overlap is not None:
            tile = self.tile or 512
            if not 0 <= self.overlap < tile // 2:
                raise InputError(
                    tr(
                        "Overlap {overlap} px must be at least 0 and less than half the tile "
                        "({tile} px)."
                    ).format(overlap=self.overlap, tile=tile)
                )
        if self.batch_size is not None and not 1 <= self.batch_size <= 1024:
            raise InputError(
                tr("Batch size {batch} is out of range: use 1 to 1024.").format(
                    batch=self.batch_size
                )
            )
        if self.working_gsd is not None and not (
            math.isfinite(self.working_gsd) and 0 < self.working_gsd <= MAX_WORKING_GSD
        ):
            raise InputError(
                tr(
                    "Working resolution {gsd} m/px is out of range: use more than 0 and at most "
                    "{most} m/px, or leave it empty for the model's own."
                ).format(gsd=self.working_gsd, most=MAX_WORKING_GSD)
            )
        if self.road_threshold is not None and not (
            math.isfinite(self.road_threshold) and 0 < self.road_threshold < 1
        ):
            raise InputError(
                tr(
                    "Road threshold {threshold} is out of range: use more than 0 and less than "
                    "1, or leave it empty for the model's own."
                ).format(threshold=self.road_threshold)
            )
        if self.area_mode not in AREA_MODES:
            raise InputError(
                tr("Unknown area {mode}; choose one of {choices}.").format(
                    mode=repr(self.area_mode), choices=", ".join(AREA_MODES)
                )
            )
        if (self.area_mode in POLYGON_MODES) != bool(self.aoi_geojson):
            raise InputError(
                tr("The area {mode} needs polygons exactly when it is a polygon area.").format(
                    mode=repr(self.area_mode)
                )
            )


def safe_name(text: str, fallback: str = "raster") -> str:
    """Return a file-name friendly version of a layer name.

    >>> safe_name("Vegas img 0 (RGB).tif")
    'Vegas_img_0_RGB_tif'
    >>> safe_name("///")
    'raster'
    """
    out = re.sub(r"[^0-9A-Za-z_-]+", "_", text).strip("_")
    return out[:60] or fallback


def model_label(model: str | None) -> str:
    """Return how runs name a model: ``default model``, an embedded name, or a file's stem.

    >>> model_label(None), model_label("/models/rural-roads.safetensors"), model_label("city")
    ('default model', 'rural-roads', 'city')
    """
    if not model or model == "default":
        return tr("default model")
    name = re.split(r"[\\/]", model)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


def default_run_name(raster_name: str, model: str, stamp: str) -> str:
    """Return the run's layer group name: raster, model and time.

    >>> default_run_name("vegas", "default model", "2024-05-01 10:00")
    'Roads vegas (default model) 2024-05-01 10:00'
    """
    return tr("Roads {raster} ({model}) {stamp}").format(
        raster=raster_name, model=model, stamp=stamp
    )


def run_folder_name(raster_name: str, model: str, stamp: str) -> str:
    """Return the name of the run's folder of results.

    >>> run_folder_name("Vegas img 0", "default model", "20240501-100000")
    'Vegas_img_0_default_model_20240501-100000'
    """
    return f"{safe_name(raster_name)}_{safe_name(model, 'model')}_{safe_name(stamp, 'run')}"
