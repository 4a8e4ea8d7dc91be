"""Network and polygons → GeoDataFrames in the raster's CRS (GraphML: :mod:`.routable`)."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from roadseg.errors import OutputError
from roadseg.geo.classes import Classes
from roadseg.vectorization.frame import MetricFrame
from roadseg.vectorization.network import RoadNetwork

CENTERLINES = "centerlines"


def check_output(path: str | os.PathLike[str]) -> Path:
    """Check early that ``path`` could be written, creating nothing (no folder is left behind).

    Raises:
        OutputError: when the path is a folder, lies under a file, or its nearest
            existing folder is read-only (the caller names the parameter with
            :func:`roadseg.errors.about`).

    """
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{str(p)!r} is a folder", value=str(p), hint="give a file name")
    anc = p.parent if str(p.parent) else Path(".")
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise OutputError(
            f"cannot create the folder {str(p.parent)!r} for {str(p)!r} ({str(anc)!r} is a file)",
            value=str(p),
            hint="choose a writable location",
        )
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputError(
            f"the folder {str(anc)!r} for {str(p)!r} is not writable",
            value=str(p),
            hint="choose a writable location",
        )
    return p


LINE_COLUMNS = ("class", "class_id", "width_m", "length_m", "node_u", "node_v", "bridges")


def centerline_frame(net: RoadNetwork, frame: MetricFrame, classes: Classes) -> gpd.GeoDataFrame:
    """Build the centreline layer: one LineString per edge with class, width, length, node ids.

    Nodes are numbered 0..N-1 from north-west to south-east; ``node_u`` is the
    node where the line starts.
    """
    g = net.g
    crs = frame.grid.crs
    order = sorted(g.nodes, key=lambda n: (g.nodes[n]["xy"][1], g.nodes[n]["xy"][0], n))
    num = {n: i for i, n in enumerate(order)}
    edges = sorted(
        g.edges(keys=True, data=True),
        key=lambda e: (min(num[e[0]], num[e[1]]), max(num[e[0]], num[e[1]]), e[3]["length"]),
    )
    if not edges:
        cols: dict[str, list[object]] = {c: [] for c in LINE_COLUMNS}
        return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=crs), crs=crs).astype(
            {
                "class": "object",
                "class_id": "int32",
                "width_m": "float64",
                "length_m": "float64",
                "node_u": "int64",
                "node_v": "int64",
                "bridges": "int32",
            }
        )
    counts = np.array([d["counts"] for *_, d in edges], dtype=np.int64)
    k = counts.shape[1]
    road = counts[:, 1:] if k > 1 else np.zeros((len(edges), 1), np.int64)
    cid = np.where(road.sum(1) > 0, road.argmax(1) + 1, 1).astype(np.int32)
    npix = np.array([d["npix"] for *_, d in edges])
    wsum = np.array([d["wsum"] for *_, d in edges])
    default_w = np.asarray(classes.widths_m, dtype=float)[
        np.minimum(cid, len(classes.widths_m) - 1)
    ]
    width = np.where(npix > 0, wsum / np.maximum(npix, 1), default_w)
    src = np.array([num[d["src"]] for *_, d in edges])
    other = np.array([num[v] if d["src"] == u else num[u] for u, v, _, d in edges])
    # Lines run from the lower node number to the higher (deterministic output).
    flip = src > other
    metric = np.array([d["geom"] for *_, d in edges], dtype=object)
    if flip.any():
        metric[flip] = shapely.reverse(metric[flip])
    src, other = np.where(flip, other, src), np.where(flip, src, other)
    geoms = frame.geoms_to_crs(metric)
    names = [classes.names[c] if c < len(classes.names) else f"class_{c}" for c in cid]
    return gpd.GeoDataFrame(
        {
            "class": names,
            "class_id": cid,
            "width_m": np.round(width, 3),
            "length_m": np.round(frame.lengths_m(geoms), 3),
            "node_u": src.astype(np.int64),
            "node_v": other.astype(np.int64),
            "bridges": np.array([d["bridges"] for *_, d in edges], dtype=np.int32),
        },
        geometry=gpd.GeoSeries(geoms, crs=crs),
        crs=crs,
    )


def polygon_frames(
    polys: dict[int, np.ndarray], frame: MetricFrame, classes: Classes, class_ids: list[int]
) -> dict[str, gpd.GeoDataFrame]:
    """One polygon layer per road class with polygons (no empty layers): class, class_id, area_m2."""
    crs = frame.grid.crs
    out: dict[str, gpd.GeoDataFrame] = {}
    for cid in class_ids:
        geoms = polys.get(cid, np.zeros(0, dtype=object))
        if not len(geoms):
            continue
        g = frame.geoms_to_crs(geoms)
        areas = frame.areas_m2(g) if len(g) else np.zeros(0)
        out[classes.layer_name(cid)] = gpd.GeoDataFrame(
            {
                "class": np.array([classes.names[cid]] * len(g), dtype=object),
                "class_id": np.full(len(g), cid, dtype=np.int32),
                "area_m2": np.round(areas, 3),
            },
            geometry=gpd.GeoSeries(g, crs=crs),
            crs=crs,
        )
    return out
