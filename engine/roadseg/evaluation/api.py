"""``evaluate``: a class raster against truth labels → pixel, relaxed and graph metrics."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
import shapely.geometry
from rasterio.features import shapes

from roadseg.errors import DataError, about
from roadseg.evaluation.apls import APLSResult, apls
from roadseg.evaluation.apls_cosmiq import CosmiqAPLS, CosmiqParams, apls_cosmiq
from roadseg.evaluation.cosmiq_graph import build_road_graph, line_parts
from roadseg.evaluation.graphs import graph_from_lines, graph_length_m
from roadseg.evaluation.options import EvaluateOptions
from roadseg.evaluation.relaxed import RelaxedCounts, relaxed_counts
from roadseg.evaluation.report import clean_json, report_files, write_report
from roadseg.evaluation.topo import TopoResult, topo
from roadseg.evaluation.truth import Truth, TruthSource, open_truth, to_binary
from roadseg.geo.classraster import NODATA, ClassRaster, open_class_raster
from roadseg.geo.grid import metric_crs_for
from roadseg.geo.paths import as_source, is_gdal_path, stem_of
from roadseg.geo.staging import staged_outputs
from roadseg.metrics import PixelScores, collapse_to_roads, confusion_matrix, pixel_scores
from roadseg.options import with_overrides
from roadseg.progress import CancelCallback, ProgressCallback, Reporter
from roadseg.vectorization.api import centerlines_from_source
from roadseg.vectorization.blocks import block_layout
from roadseg.vectorization.frame import MetricFrame
from roadseg.vectorization.params import VectorizeOptions


@dataclass(frozen=True)
class EvaluationResult:
    """Metrics of one prediction against its truth, and the report files written.

    Attributes:
        metrics: Everything measured (JSON-able; see ``metrics.json``).
        files: Report files by kind (metrics, report, confusion_csv, confusion_png).
        confusion: Confusion matrix (rows truth, columns prediction).
        pixel: Per-class pixel scores.
        road: Road / not-road pixel scores.
        relaxed: Relaxed counts.
        apls: APLS result (CosmiQ's definition by default; None when skipped).
        topo: TOPO result (None when skipped).
        timings: Seconds per step.

    """

    metrics: dict[str, Any]
    files: dict[str, Path]
    confusion: np.ndarray
    pixel: PixelScores
    road: PixelScores
    relaxed: RelaxedCounts
    apls: CosmiqAPLS | APLSResult | None
    topo: TopoResult | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the CLI's JSON object)."""
        return clean_json(
            {
                "outputs": [str(p) for p in self.files.values()],
                "files": {k: str(v) for k, v in self.files.items()},
                "metrics": self.metrics,
                "timings": self.timings,
            }
        )


def evaluate(
    prediction: str | os.PathLike[str],
    truth: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    options: EvaluateOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    **overrides: Any,
) -> EvaluationResult:
    """Evaluate a class raster against truth labels and write a report.

    Args:
        prediction: Class raster (the output of prediction).
        truth: Road vectors (any OGR format; rasterised onto the prediction's grid
            with per-class widths) or a class raster / road mask.
        out_dir: Report folder (default: ``<prediction stem>_eval`` beside the prediction).
        options: An :class:`EvaluateOptions` (class field, buffer, APLS definition and
            settings...).
        progress: Progress callback.
        cancel: Cancel callback.
        **overrides: Fields of :class:`EvaluateOptions` (``buffer_m=1.0``,
            ``class_field="highway"``, ``apls_definition="roadseg"``...), replacing those of
            ``options``.

    Returns:
        The metrics and the report files (see :class:`EvaluationResult`).

    """
    t_start = time.perf_counter()
    opts = with_overrides(options, EvaluateOptions, overrides)
    reporter = Reporter(progress, cancel)
    pred_path = as_source(prediction)
    if out_dir is not None:
        out = Path(out_dir)
    elif is_gdal_path(pred_path):
        out = Path(f"{stem_of(pred_path)}_eval")
    else:
        out = Path(pred_path).parent / f"{stem_of(pred_path)}_eval"
    with staged_outputs(opts.overwrite) as outs:
        for f in report_files(out).values():
            outs.declare(f, "out_dir")  # existing reports refused before any work starts
        return _evaluate(pred_path, truth, out, opts, reporter, t_start)


def _evaluate(
    pred_path: str | os.PathLike[str],
    truth: str | os.PathLike[str],
    out: Path,
    opts: EvaluateOptions,
    reporter: Reporter,
    t_start: float,
) -> EvaluationResult:
    """The evaluation's work, its report staged in the running output set."""
    buffer_m = opts.buffer_m
    timings: dict[str, float] = {}
    with open_class_raster(pred_path, param="prediction", gsd=opts.gsd) as pred:
        with about("truth"):
            tru = open_truth(
                truth,
                pred,
                class_field=opts.class_field,
                scheme=opts.scheme,
                mask=opts.truth_mask(),
            )
        t0 = time.perf_counter()
        cm, rel, nodata = _pixel_pass(pred, tru, buffer_m, opts.block_size, reporter)
        timings["pixels"] = time.perf_counter() - t0
        if cm.sum() == 0:
            raise DataError(
                f"`prediction` {str(pred_path)!r} and `truth` {str(tru.path)!r} share no valid "
                "pixel",
                param="truth",
                value=str(tru.path),
                hint="give labels for the same area",
            )
        t0 = time.perf_counter()
        graphs, ap, tp = (
            _graph_pass(
                pred,
                tru,
                nodata,
                _GraphSettings(
                    opts.apls_interval_m,
                    opts.apls_snap_m,
                    opts.apls_max_nodes,
                    opts.apls_definition,
                ),
                reporter,
            )
            if opts.graph_metrics
            else ({}, None, None)
        )
        timings["graphs"] = time.perf_counter() - t0
    names = tru.classes.names
    pix = pixel_scores(cm, names)
    road = pixel_scores(collapse_to_roads(cm), ("background", "road"))
    metrics = _metrics(pred_path, tru, _Scores(cm, pix, road, rel), graphs, ap, opts)
    metrics["topo"] = tp.as_dict() if tp is not None else None
    reporter.update("report", 0, 1, str(out))
    with about("out_dir"):
        files = write_report(out, metrics, cm, names)
    reporter.update("report", 1, 1, str(out))
    timings["total"] = time.perf_counter() - t_start
    timings = {k: round(v, 3) for k, v in timings.items()}
    return EvaluationResult(
        metrics=metrics,
        files=files,
        confusion=cm,
        pixel=pix,
        road=road,
        relaxed=rel,
        apls=ap,
        topo=tp,
        timings=timings,
    )


def _pixel_pass(
    pred: ClassRaster, tru: Truth, buffer_m: float, block_size: int, reporter: Reporter
) -> tuple[np.ndarray, RelaxedCounts, shapely.Geometry]:
    """Confusion matrix, relaxed counts and the prediction's nodata area (CRS), block by block."""
    grid = pred.grid
    frame = MetricFrame(grid)
    k = tru.classes.num_classes
    margin = int(math.ceil(buffer_m / min(frame.gsd))) + 2
    blocks = block_layout(grid.width, grid.height, block_size, margin)
    source = TruthSource(tru, grid)
    cm = np.zeros((k, k), dtype=np.int64)
    rel = RelaxedCounts()
    holes: list[shapely.Geometry] = []
    for i, blk in enumerate(blocks):
        reporter.update("evaluate", i, len(blocks), f"block {i + 1}/{len(blocks)}")
        p = pred.read(blk.outer)
        if tru.binary:
            p = to_binary(p)
        t = source.read(blk.outer)
        r0, r1, c0, c1 = blk.local_core
        cm += confusion_matrix(t[r0:r1, c0:c1], p[r0:r1, c0:c1], k, NODATA)
        valid = (t != NODATA) & (p != NODATA)
        core = np.zeros(valid.shape, bool)
        core[r0:r1, c0:c1] = True
        rel = rel + relaxed_counts(
            (p > 0) & valid, (t > 0) & valid, buffer_m, frame.gsd, count=core & valid
        )
        nd = p[r0:r1, c0:c1] == NODATA
        if nd.any():
            t_core = grid.window_grid(blk.core).transform
            holes += [
                shapely.geometry.shape(g)
                for g, _ in shapes(nd.view(np.uint8), mask=nd, transform=t_core)
            ]
    reporter.update("evaluate", len(blocks), len(blocks), "pixel metrics done")
    nodata = (
        shapely.union_all(np.array(holes, dtype=object)) if holes else shapely.GeometryCollection()
    )
    return cm, rel, nodata


@dataclass(frozen=True)
class _GraphSettings:
    interval: float
    snap: float
    max_nodes: int
    definition: str


def _graph_pass(
    pred: ClassRaster,
    tru: Truth,
    nodata: shapely.Geometry,
    gs: _GraphSettings,
    reporter: Reporter,
) -> tuple[dict[str, Any], CosmiqAPLS | APLSResult, TopoResult]:
    """Centreline graphs of prediction and truth, APLS and TOPO between them."""
    reporter.update("graphs", 0, 3, "predicted centrelines")
    metric = metric_crs_for(pred.grid)
    pred_lines = centerlines_from_source(pred, VectorizeOptions(), reporter.sub("graphs:"))
    reporter.update("graphs", 1, 3, "true centrelines")
    if tru.lines is not None:
        geoms = shapely.clip_by_rect(tru.lines.geometry.values, *pred.grid.bounds)
        if not nodata.is_empty:
            geoms = shapely.difference(geoms, nodata)
        true_lines = gpd.GeoDataFrame(geometry=gpd.GeoSeries(geoms, crs=pred.grid.crs))
        source = "truth vectors, clipped to the prediction's valid area"
    else:
        true_lines = centerlines_from_source(
            TruthSource(tru, pred.grid), VectorizeOptions(), reporter.sub("graphs:")
        )
        source = "skeleton of the rasterised truth"
    gp = _metric_graph(pred_lines, metric)
    gt = _metric_graph(true_lines, metric)
    reporter.update("graphs", 2, 3, "APLS")
    # CosmiQ's graphs: vertices shared exactly are junctions. Truth vectors are noded at
    # crossings first (OSM-style labels often cross without a shared vertex).
    rt = build_road_graph(line_parts(_noded(_metric_lines(true_lines, metric))), 5.0)
    rp = build_road_graph(line_parts(_metric_lines(pred_lines, metric)), 5.0)
    ap: CosmiqAPLS | APLSResult
    if gs.definition == "cosmiq":
        ap = apls_cosmiq(rt, rp, CosmiqParams(linestring_delta_m=gs.interval, max_snap_m=gs.snap))
    else:
        ap = apls(gt, gp, interval_m=gs.interval, snap_m=gs.snap, max_nodes=gs.max_nodes)
    tp = topo(rt, rp, hole_m=gs.snap)
    reporter.update("graphs", 3, 3, "APLS done")
    info = {
        "truth_source": source,
        "truth_km": graph_length_m(gt) / 1e3,
        "truth_nodes": gt.number_of_nodes(),
        "truth_edges": gt.number_of_edges(),
        "pred_km": graph_length_m(gp) / 1e3,
        "pred_nodes": gp.number_of_nodes(),
        "pred_edges": gp.number_of_edges(),
        "metric_crs": metric.to_string() if metric is not None else None,
    }
    return info, ap, tp


def _metric_lines(lines: gpd.GeoDataFrame, metric: Any) -> np.ndarray:
    if lines.empty:
        return np.zeros(0, dtype=object)
    g = lines.to_crs(metric) if metric is not None and lines.crs is not None else lines
    return np.asarray(g.geometry.values, dtype=object)


def _noded(geoms: np.ndarray) -> np.ndarray:
    """Split lines where they cross or touch (shared vertices at every junction)."""
    parts = line_parts(geoms)
    if not parts:
        return np.zeros(0, dtype=object)
    merged = shapely.union_all(np.array([shapely.LineString(c) for c in parts], dtype=object))
    return shapely.get_parts(merged)


def _metric_graph(lines: gpd.GeoDataFrame, metric: Any) -> nx.MultiGraph:
    if lines.empty:
        return nx.MultiGraph()
    g = lines.to_crs(metric) if metric is not None and lines.crs is not None else lines
    return graph_from_lines(g.geometry.values)


@dataclass(frozen=True)
class _Scores:
    """The pixel pass's figures."""

    cm: np.ndarray
    pix: PixelScores
    road: PixelScores
    rel: RelaxedCounts


def _metrics(
    pred_path: str | os.PathLike[str],
    tru: Truth,
    scores: _Scores,
    graphs: dict[str, Any],
    ap: CosmiqAPLS | APLSResult | None,
    opts: EvaluateOptions,
) -> dict[str, Any]:
    from dataclasses import asdict

    cm, pix, road, rel = scores.cm, scores.pix, scores.road, scores.rel

    m: dict[str, Any] = {
        "prediction": str(pred_path),
        "truth": str(tru.path),
        "truth_kind": tru.kind,
        "scheme": tru.scheme,
        "mode": tru.mode,
        "classes": list(tru.classes.names),
        "pixels": int(cm.sum()),
        "per_class": pix.per_class(),
        "pixel_accuracy": pix.pixel_accuracy,
        "miou": pix.miou,
        "miou_roads": pix.miou_roads,
        "road": road.per_class()["road"],
        "relaxed": {
            "buffer_m": opts.buffer_m,
            "precision": rel.precision,
            "recall": rel.recall,
            "f1": rel.f1,
            **asdict(rel),
        },
        "confusion": cm.tolist(),
        "graphs": graphs
        or {
            "truth_source": "not computed",
            "truth_km": 0.0,
            "truth_nodes": 0,
            "truth_edges": 0,
            "pred_km": 0.0,
            "pred_nodes": 0,
            "pred_edges": 0,
        },
        "apls": _apls_dict(ap, opts.apls_interval_m, opts.apls_snap_m),
    }
    return m


def _apls_dict(ap: CosmiqAPLS | APLSResult | None, interval: float, snap: float) -> dict | None:
    from dataclasses import asdict

    if ap is None:
        return None
    if isinstance(ap, CosmiqAPLS):
        d = ap.as_dict()
        d["pairs_truth"], d["pairs_pred"] = ap.routes_truth, ap.routes_pred
    else:
        d = {**asdict(ap), "definition": "roadseg"}
    return {**d, "interval_m": interval, "snap_m": snap}
