"""``vectorize``: a class raster → GeoPackage road polygons per class + a centreline network."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from roadseg.errors import ConfigError, DataError, OutputError, about
from roadseg.geo.classes import Classes
from roadseg.geo.classraster import NODATA, ClassRaster, open_class_raster
from roadseg.geo.paths import as_source, file_key, is_gdal_path
from roadseg.geo.staging import OutputSet, staged_outputs
from roadseg.options import with_overrides
from roadseg.progress import CancelCallback, ProgressCallback, Reporter
from roadseg.vectorization.blocks import block_layout
from roadseg.vectorization.extract import (
    BlockContext,
    ClassSource,
    Extraction,
    MaskSupport,
    blocks_of,
    extract,
    extract_block,
    merge_pieces,
)
from roadseg.vectorization.frame import MetricFrame
from roadseg.vectorization.output import (
    CENTERLINES,
    centerline_frame,
    polygon_frames,
)
from roadseg.vectorization.params import Resolved, VectorizeOptions
from roadseg.vectorization.pieces import BlockPieces
from roadseg.vectorization.routable import write_edge_list, write_routable_graphml


@dataclass(frozen=True)
class ClassFigures:
    """Figures of one road class.

    Attributes:
        name: Class name.
        layer: Polygon layer name.
        polygons: Number of polygons.
        area_km2: Polygon area in km².
        centerline_km: Length of centrelines of this class in km.
        edges: Number of centreline edges of this class.

    """

    name: str
    layer: str
    polygons: int
    area_km2: float
    centerline_km: float
    edges: int


@dataclass(frozen=True)
class VectorizeResult:
    """What :func:`vectorize` wrote and measured.

    Attributes:
        gpkg: The GeoPackage written.
        graphml: The GraphML written (None when not asked for).
        layers: Layer names in the GeoPackage.
        classes: Figures per road class.
        nodes: Nodes of the centreline network.
        edges: Edges of the centreline network.
        components: Connected pieces of the network.
        centerline_km: Total centreline length in km.
        raster_km2: Ground area of the raster in km².
        megapixels: Raster size in megapixels.
        settings: The settings used (defaults filled in).
        cleanup: Counts of each cleaning step (spurs pruned, specks removed, gaps bridged,
            carriageways merged, loops collapsed, stubs dropped).
        timings: Seconds per step and in total.
        edges_path: The directed edge list written (None when not asked for).

    """

    gpkg: Path
    graphml: Path | None
    layers: tuple[str, ...]
    classes: tuple[ClassFigures, ...]
    nodes: int
    edges: int
    components: int
    centerline_km: float
    raster_km2: float
    megapixels: float
    settings: dict[str, Any] = field(default_factory=dict)
    cleanup: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    edges_path: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the CLI's JSON object)."""
        d = asdict(self)
        d["gpkg"] = str(self.gpkg)
        d["graphml"] = str(self.graphml) if self.graphml else None
        d["edges_path"] = str(self.edges_path) if self.edges_path else None
        d["outputs"] = [str(self.gpkg)] + ([str(self.graphml)] if self.graphml else [])
        d["outputs"] += [str(self.edges_path)] if self.edges_path else []
        d["metrics"] = {
            "centerline_km": self.centerline_km,
            "nodes": self.nodes,
            "edges": self.edges,
            "components": self.components,
            "cleaning": dict(self.cleanup),
            "per_class": {
                c.name: {"km": c.centerline_km, "km2": c.area_km2, "polygons": c.polygons}
                for c in self.classes
            },
        }
        return d


def vectorize(
    class_raster: str | os.PathLike[str],
    out_gpkg: str | os.PathLike[str],
    *,
    graphml: str | os.PathLike[str] | None = None,
    edges: str | os.PathLike[str] | None = None,
    options: VectorizeOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    **overrides: Any,
) -> VectorizeResult:
    """Vectorise a class raster into road polygons per class and a centreline network.

    Args:
        class_raster: Class raster (see :mod:`roadseg.geo.classraster`).
        out_gpkg: GeoPackage to write (layers ``roads_<class>`` and ``centerlines``).
        graphml: Optional GraphML of the network: an osmnx-compatible directed
            multigraph (see :mod:`roadseg.vectorization.routable`).
        edges: Optional directed edge list with the same attributes (``.gpkg`` or GeoJSON).
        options: A :class:`VectorizeOptions` (tolerances, pruning, bridging, the cleaning
            steps, blocks, gsd).
        progress: Progress callback.
        cancel: Cancel callback (checked between blocks).
        **overrides: Fields of :class:`VectorizeOptions` (``prune_m=10``, ``cleaning=False``,
            ``carriageways="merge"``, ``gsd=0.5``...), replacing those of ``options``.

    Returns:
        Paths written and figures (see :class:`VectorizeResult`).

    """
    t_start = time.perf_counter()
    reporter = Reporter(progress, cancel)
    params = with_overrides(options, VectorizeOptions, overrides)
    targets = _check_targets(class_raster, out_gpkg, graphml, edges)
    with staged_outputs(params.overwrite) as outs:
        _declare(outs, targets)  # existing outputs refused before any work starts
        r = _vectorize(as_source(class_raster), out_gpkg, graphml, edges, params, reporter)
    r = replace(r, timings={**r.timings, "total": round(time.perf_counter() - t_start, 4)})
    return r


#: File names each output may have: (suffixes, what it is).
OUTPUT_KINDS = {
    "out": ((".gpkg",), "GeoPackage"),
    "graphml": ((".graphml", ".xml"), "GraphML file"),
    "edges": ((".gpkg", ".geojson", ".json"), "GeoPackage or GeoJSON file"),
}


def _check_targets(
    class_raster: str | os.PathLike[str],
    out: str | os.PathLike[str],
    graphml: str | os.PathLike[str] | None,
    edges: str | os.PathLike[str] | None,
) -> dict[str, Path]:
    """The outputs by parameter: their formats, none of them the input or another output."""
    targets = {"out": out, "graphml": graphml, "edges": edges}
    seen = {file_key(class_raster): "class_raster"}
    checked: dict[str, Path] = {}
    for param, path in targets.items():
        if path is None:
            continue
        suffixes, kind = OUTPUT_KINDS[param]
        if is_gdal_path(path):
            raise ConfigError(
                f"`{param}` {str(path)!r} is not a local path",
                param=param,
                value=str(path),
                hint="write outputs to a local file",
            )
        p = Path(path)
        if p.is_dir():
            raise OutputError(
                f"`{param}` {str(p)!r} is a folder",
                param=param,
                value=str(p),
                hint=f"give a {suffixes[0]} file name",
            )
        if p.suffix.lower() not in suffixes:
            raise ConfigError(
                f"`{param}` {str(p)!r} must be a {kind} ({' or '.join(suffixes)})",
                param=param,
                value=str(p),
                hint=f"give a {suffixes[0]} file name",
            )
        key = file_key(p)
        if key in seen:
            what = "the input" if seen[key] == "class_raster" else "also the output"
            raise ConfigError(
                f"`{param}` {str(p)!r} is {what} `{seen[key]}`",
                param=param,
                value=str(p),
                hint="give each output its own name",
            )
        seen[key] = param
        checked[param] = p
    return checked


def _declare(outs: OutputSet, targets: dict[str, Path]) -> None:
    for param, path in targets.items():
        outs.declare(path, param)


def _vectorize(
    class_raster: str | os.PathLike[str],
    out_gpkg: str | os.PathLike[str],
    graphml: str | os.PathLike[str] | None,
    edges: str | os.PathLike[str] | None,
    params: VectorizeOptions,
    reporter: Reporter,
) -> VectorizeResult:
    """The vectoriser's work: read, extract, write (into the running output set)."""
    t_start = time.perf_counter()
    with open_class_raster(class_raster, gsd=params.gsd) as src:
        if not src.tagged:
            src.classes = Classes.untagged(_max_class(src, params.block_size, reporter))
        frame = MetricFrame(src.grid)
        res = params.resolve(src.classes, frame.mean_gsd)
        ex = extract(src, res, frame, src.classes.num_classes, reporter, polygons=True)
        _check_not_all_nodata(src, ex)
        classes, tagged = src.classes, src.tagged
    reporter.check()
    outputs = _Outputs(Path(out_gpkg), graphml, edges)
    return _write(ex, frame, classes, tagged, res, outputs, reporter, t_start)


def vectorize_block(
    class_raster: str | os.PathLike[str], index: int, options: VectorizeOptions | None = None
) -> BlockPieces:
    """Vectorise one block of a class raster (its margin is read too): its pieces.

    Blocks are numbered as :func:`block_count` lays them out (row by row); the pieces of
    all blocks, merged in order by :func:`vectorize_pieces`, give :func:`vectorize`'s result.
    The class raster must carry the class tags (as prediction writes them).
    """
    params = options or VectorizeOptions()
    with open_class_raster(class_raster, gsd=params.gsd) as src:
        ctx = _context(src, params)
        blocks = blocks_of(src.grid, ctx.params)
        if not 0 <= index < len(blocks):
            raise ConfigError(
                f"`index` {index} is not a block of {str(src.path)!r}, which has "
                f"{len(blocks)} block(s)",
                param="index",
                value=index,
                hint=f"give an index from 0 to {len(blocks) - 1} (see `block_count`)",
            )
        return extract_block(src, blocks[index], ctx)


def block_count(
    class_raster: str | os.PathLike[str], options: VectorizeOptions | None = None
) -> int:
    """Blocks :func:`vectorize_block` numbers over a class raster."""
    params = options or VectorizeOptions()
    with open_class_raster(class_raster, gsd=params.gsd) as src:
        return len(blocks_of(src.grid, params.resolve(src.classes, MetricFrame(src.grid).mean_gsd)))


def vectorize_pieces(
    class_raster: str | os.PathLike[str],
    pieces: Iterable[BlockPieces],
    out_gpkg: str | os.PathLike[str],
    *,
    graphml: str | os.PathLike[str] | None = None,
    options: VectorizeOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
) -> VectorizeResult:
    """Finish a vectorisation whose blocks ran elsewhere: merge their pieces (in block order).

    Gives what :func:`vectorize` gives on the same raster and options.
    """
    t_start = time.perf_counter()
    reporter = Reporter(progress, cancel)
    params = options or VectorizeOptions()
    _check_targets(class_raster, out_gpkg, graphml, None)
    with open_class_raster(class_raster, gsd=params.gsd) as src:
        ctx = _context(src, params)
        ex = merge_pieces(pieces, ctx, MaskSupport(src, ctx.frame.gsd))
        _check_not_all_nodata(src, ex)
        classes, tagged = src.classes, src.tagged
    reporter.check()
    outputs = _Outputs(Path(out_gpkg), graphml, None)
    return _write(ex, ctx.frame, classes, tagged, ctx.params, outputs, reporter, t_start)


def _context(src: ClassRaster, params: VectorizeOptions) -> BlockContext:
    if not src.tagged:
        raise DataError(
            f"{str(src.path)!r} has no class tags: vectorise it whole with `vectorize`",
            param="class_raster",
            value=str(src.path),
        )
    frame = MetricFrame(src.grid)
    res = params.resolve(src.classes, frame.mean_gsd)
    n = len(blocks_of(src.grid, res))
    return BlockContext(src.grid, res, frame, src.classes.num_classes, n, polygons=True)


@dataclass(frozen=True)
class _Outputs:
    gpkg: Path
    graphml: str | os.PathLike[str] | None
    edges: str | os.PathLike[str] | None


def _write(
    ex: Extraction,
    frame: MetricFrame,
    classes: Classes,
    tagged: bool,
    res: Resolved,
    outputs: _Outputs,
    reporter: Reporter,
    t_start: float,
) -> VectorizeResult:
    """Write the GeoPackage (and GraphML, edge list) of an extraction; figures."""
    out_gpkg, graphml, edges = outputs.gpkg, outputs.graphml, outputs.edges
    t0 = time.perf_counter()
    lines = centerline_frame(ex.network, frame, classes)
    road_ids = _road_class_ids(classes, ex.histogram, tagged)
    layers = polygon_frames(ex.polygons, frame, classes, road_ids)
    layers[CENTERLINES] = lines
    types = {name: "Polygon" for name in layers if name != CENTERLINES}
    types[CENTERLINES] = "LineString"
    reporter.update("write", 0, 1, str(out_gpkg))
    from roadseg.geo.vectors import write_gpkg

    with about("out"):
        write_gpkg(out_gpkg, layers, geometry_types=types)
    gml = None
    if graphml is not None:
        crs = frame.grid.crs
        with about("graphml"):
            gml = write_routable_graphml(
                graphml, lines, crs.to_string() if crs is not None else None
            )
    if edges is not None:
        with about("edges"):
            write_edge_list(edges, lines)
    reporter.update("write", 1, 1, str(out_gpkg))
    timings = dict(ex.timings)
    timings["write"] = round(time.perf_counter() - t0, 4)
    timings["total"] = round(time.perf_counter() - t_start, 4)
    r = _result(Path(out_gpkg), gml, layers, lines, classes, road_ids, frame, res, ex, timings)
    if edges is not None:
        r = replace(r, edges_path=Path(edges))
    return r


def _max_class(src: ClassRaster, block: int, reporter: Reporter) -> int:
    """Highest road class id in a raster (one cheap pass; for rasters without class tags)."""
    top = 0
    g = src.grid
    for blk in block_layout(g.width, g.height, block, 0):
        reporter.check()
        a = src.read(blk.core)
        vals = a[(a > 0) & (a != NODATA)]
        if vals.size:
            top = max(top, int(vals.max()))
    return max(top, 1)


def _check_not_all_nodata(src: ClassRaster, ex: Extraction) -> None:
    h = ex.histogram
    if h[NODATA] == h.sum() and h.sum() > 0:
        raise DataError(
            f"`class_raster` {str(src.path)!r} is nodata (255) everywhere; 255 means nodata in "
            "class rasters",
            param="class_raster",
            value=str(src.path),
            hint="give the class raster written by prediction (a 0/255 mask: convert 255 to 1 "
            "first)",
        )


def _road_class_ids(classes: Classes, hist: np.ndarray, tagged: bool) -> list[int]:
    """Road classes that get a polygon layer: all if tagged, else those present."""
    if tagged:
        return list(range(1, classes.num_classes))
    present = [i for i in range(1, classes.num_classes) if hist[i] > 0]
    return present or [1]


def _result(
    gpkg: Path,
    gml: Path | None,
    layers: dict[str, gpd.GeoDataFrame],
    lines: gpd.GeoDataFrame,
    classes: Classes,
    road_ids: list[int],
    frame: MetricFrame,
    res: Resolved,
    ex: Extraction,
    timings: dict[str, float],
) -> VectorizeResult:
    import networkx as nx

    figs = []
    for cid in road_ids:
        layer = classes.layer_name(cid)
        poly = layers.get(layer)
        n_poly = 0 if poly is None else int(len(poly))
        area = 0.0 if poly is None else float(poly["area_m2"].sum())
        sel = lines["class_id"].to_numpy() == cid
        figs.append(
            ClassFigures(
                name=classes.names[cid],
                layer=layer,
                polygons=n_poly,
                area_km2=round(area / 1e6, 6),
                centerline_km=round(float(lines["length_m"].to_numpy()[sel].sum()) / 1e3, 4),
                edges=int(sel.sum()),
            )
        )
    g = ex.network.g
    w, h = frame.grid.width, frame.grid.height
    gx, gy = frame.gsd
    return VectorizeResult(
        gpkg=gpkg,
        graphml=gml,
        layers=tuple(layers),
        classes=tuple(figs),
        nodes=g.number_of_nodes(),
        edges=g.number_of_edges(),
        components=nx.number_connected_components(g) if g.number_of_nodes() else 0,
        centerline_km=round(float(lines["length_m"].sum()) / 1e3, 4),
        raster_km2=round(w * h * gx * gy / 1e6, 6),
        megapixels=round(w * h / 1e6, 4),
        settings={**asdict(res), "cleaning": res.cleaning},
        cleanup=ex.cleanup,
        timings=timings,
    )


def centerlines_from_source(
    source: ClassSource, params: VectorizeOptions | None = None, reporter: Reporter | None = None
) -> gpd.GeoDataFrame:
    """Return the centreline layer (raster CRS) of any class source, without writing files.

    Used by ``evaluate`` to build prediction and truth graphs.
    """
    params = params or VectorizeOptions()
    frame = MetricFrame(source.grid)
    res = params.resolve(source.classes, frame.mean_gsd)
    ex = extract(
        source, res, frame, source.classes.num_classes, reporter or Reporter(), polygons=False
    )
    return centerline_frame(ex.network, frame, source.classes)
