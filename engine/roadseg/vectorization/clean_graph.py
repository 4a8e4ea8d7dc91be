"""Network cleaning on the centreline graph (after tracing; metres in the metric frame).

* **collapse small loops** — a road that splits around an obstacle (a car, a tree, a
  traffic island, a gap in the prediction) and joins again encloses a face bounded by
  two edges between the same two junctions; when the face encloses less than
  ``max_area_m2`` and the ground between the two is narrower than a lane
  (:data:`LANE_M`), the two edges become their mean line. (Wider ground is an
  island between two carriageways, which SpaceNet's truth keeps as two lines.) A loop hanging from one
  junction (a turning circle drawn as a ring) becomes a line to its centre. A small
  face with three or more sides has a road leaving at each corner: a small block
  or a junction triangle that is really there, kept.
* **drop edge stubs** — dead ends ending on the raster's edge or at nodata that are
  shorter than ``stub_m`` *and* lie inside the road they hang from (no longer than
  half its width, plus a pixel and a half) are cut: they are whiskers the skeleton
  grows where a road runs along the raster's edge. When that road runs along the side
  the stub ends on (straight through the junction, parallel to the side within 30°),
  the stub may reach :data:`EDGE_GAP_M` past the road's side instead of a pixel and a
  half: less ground than that between a road and the edge is the prediction's fraying
  edge, which the skeleton turns into whiskers, not room for a road leaving the raster. A road leaving the raster a few
  metres past a junction reaches beyond the road it leaves, or continues a road
  straight through the junction, and keeps its line.

Faces are found by walking the planar embedding: at every node, edges are ordered
by the direction of their first segment; each half-edge is followed by the next
one clockwise at its end node. Inner faces have positive area.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import shapely

from roadseg.vectorization.edge_data import (
    COS_STRAIGHT,
    Key,
    coords_from,
    mean_width,
    other_edges,
)

if TYPE_CHECKING:
    import networkx as nx

    from roadseg.vectorization.network import RoadNetwork

#: Ground (metres) between a road running along the raster's edge and the edge that leaves
#: no room for a road: a stub crossing it from such a road is a whisker (less than a car's
#: width; the prediction's fraying edge, not a road leaving the raster).
EDGE_GAP_M = 2.0

#: A lane (metres): two sides of a loop with less ground than this between them are one
#: road split by the prediction (a shadow, a car, a marking), not two roads.
LANE_M = 3.5


def faces(net: RoadNetwork) -> list[tuple[float, list[Key]]]:
    """Inner faces of the network as (area m², edges around them), smallest first.

    Self-loops are faces of their own (the area of their ring).
    """
    g = net.g
    out: dict[int, list[tuple[float, Key, int]]] = {}
    result: list[tuple[float, list[Key]]] = []
    for u, v, k, d in g.edges(keys=True, data=True):
        if u == v:
            loop = shapely.get_coordinates(d["geom"])
            if len(loop) >= 4:
                result.append((abs(_area(loop[:-1])), [(u, v, k)]))
            continue
        for a, b in ((u, v), (v, u)):
            c = coords_from(d, a)
            out.setdefault(a, []).append(
                (math.atan2(c[1][1] - c[0][1], c[1][0] - c[0][0]), (u, v, k), b)
            )
    index: dict[tuple[int, Key], int] = {}
    for a, lst in out.items():
        lst.sort(key=lambda t: t[0])
        for i, (_, key, _) in enumerate(lst):
            index[(a, key)] = i
    seen: set[tuple[int, int]] = set()
    for a0, lst0 in out.items():
        for i0 in range(len(lst0)):
            a, i = a0, i0
            ring: list[np.ndarray] = []
            keys: list[Key] = []
            while (a, i) not in seen:
                seen.add((a, i))
                _, key, to = out[a][i]
                ring.append(coords_from(g.edges[key], a)[:-1])
                keys.append(key)
                a, i = to, (index[(to, key)] - 1) % len(out[to])
            if keys:
                area = _area(np.vstack(ring))
                if area > 0:
                    result.append((area, keys))
    result.sort(key=lambda t: t[0])
    return result


def _area(pts: np.ndarray) -> float:
    """Shoelace area of a closed ring given without its repeated last point."""
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def collapse_small_loops(
    net: RoadNetwork, max_area_m2: float, max_extent_m: float = math.inf
) -> int:
    """Collapse the small loops of a road around an obstacle (see the module docstring).

    A face smaller than ``max_area_m2`` and no longer than ``max_extent_m`` (its bounding
    box; a longer one lies between two carriageways, which are not merged here) is
    collapsed when it is bounded by two edges between the same two nodes (the road
    splits and joins again, with less than :data:`LANE_M` of ground between the two:
    replaced by their mean line) or by one loop hanging from a junction (replaced by a
    line to the loop's centre). Faces with three or more sides have a road leaving at
    every corner: small blocks, kept.
    """
    if max_area_m2 <= 0:
        return 0
    g = net.g
    collapsed = 0
    for _ in range(1000):
        touched: set[int] = set()
        for area, keys in faces(net):
            if area >= max_area_m2:
                break
            ends = {n for k in keys for n in k[:2]}
            if ends & touched or len(set(keys)) != len(keys) or len(keys) > 2:
                continue
            if _extent(g, keys) > max_extent_m:
                continue
            if len(keys) == 2 and len(ends) == 2:
                if _gap(g, keys, area) >= LANE_M:
                    continue
                a = keys[0][0]
                b = keys[0][1]
                _replace(net, keys, a, b, _mean_line(g, keys, a))
            elif len(keys) == 1 and len(ends) == 1 and g.degree(keys[0][0]) > 2:
                a = keys[0][0]
                ring = shapely.Polygon(shapely.get_coordinates(g.edges[keys[0]]["geom"]))
                c = ring.centroid
                end = net.new_node((c.x, c.y))
                _replace(net, keys, a, end, np.array([g.nodes[a]["xy"], (c.x, c.y)]))
            else:
                continue
            touched |= ends
            collapsed += 1
        if not touched:
            break
        net.dissolve([n for n in touched if n in g])
    return collapsed


def _gap(g: nx.MultiGraph, keys: list[Key], area: float) -> float:
    """Width of the ground between two sides of a face: mean spacing less their half widths."""
    d1, d2 = (g.edges[k] for k in keys)
    spacing = 2.0 * area / max(d1["length"] + d2["length"], 1e-9)
    return spacing - 0.5 * (mean_width(d1) + mean_width(d2))


def _mean_line(g: nx.MultiGraph, keys: list[Key], a: int) -> np.ndarray:
    """The mean of two lines from node ``a`` to the same node (sampled every metre)."""
    lines = [shapely.LineString(coords_from(g.edges[k], a)) for k in keys]
    n = max(3, int(math.ceil(max(line.length for line in lines))) + 1)
    t = np.linspace(0.0, 1.0, n)
    pts = [
        shapely.get_coordinates(shapely.line_interpolate_point(line, t, normalized=True))
        for line in lines
    ]
    return (pts[0] + pts[1]) / 2.0


def _replace(net: RoadNetwork, keys: list[Key], a: int, b: int, coords: np.ndarray) -> None:
    """Replace the edges ``keys`` by one edge ``a`` → ``b`` along ``coords``."""
    g = net.g
    old = [g.edges[k] for k in keys]
    for k in keys:
        g.remove_edge(*k)
    coords = np.array(coords, dtype=float)
    coords[0], coords[-1] = g.nodes[a]["xy"], g.nodes[b]["xy"]
    geom = shapely.LineString(coords)
    g.add_edge(
        a,
        b,
        geom=geom,
        src=a,
        counts=sum(d["counts"] for d in old),
        wsum=sum(d["wsum"] for d in old),
        npix=sum(d["npix"] for d in old),
        length=float(geom.length),
        bridges=sum(d["bridges"] for d in old),
    )


def _extent(g: nx.MultiGraph, keys: list[Key]) -> float:
    """Longer side of the bounding box of the edges ``keys``."""
    c = shapely.get_coordinates([g.edges[k]["geom"] for k in keys])
    return float(np.max(c.max(axis=0) - c.min(axis=0)))


def drop_edge_stubs(net: RoadNetwork, stub_m: float) -> int:
    """Remove whiskers at the raster's edge or nodata shorter than ``stub_m`` (see the docstring)."""
    if stub_m <= 0:
        return 0
    g = net.g
    tol = net.extent[2] if net.extent is not None else 1.0
    dropped = 0
    changed = True
    while changed:
        changed = False
        for u, v, k, d in sorted(g.edges(keys=True, data=True), key=lambda e: e[3]["length"]):
            if d["length"] >= stub_m or not g.has_edge(u, v, k) or u == v:
                continue
            du, dv = g.degree(u), g.degree(v)
            ends = [n for n, dg in ((u, du), (v, dv)) if dg == 1 and net.on_border(n)]
            if not ends:
                continue
            other = v if ends[0] == u else u
            half = _half_width(net, other, (u, v, k)) if g.degree(other) >= 3 else 0.0
            room = max(tol, EDGE_GAP_M) if _along_edge(net, other, (u, v, k), ends[0]) else tol
            if half > 0 and d["length"] <= half + room:
                g.remove_edge(u, v, k)
                for n in (u, v):
                    if g.degree(n) == 0:
                        g.remove_node(n)
                if other in g:
                    net.dissolve([other])
                dropped += 1
                changed = True
                break
    return dropped


def _along_edge(net: RoadNetwork, n: int, stub: Key, end: int) -> bool:
    """Whether the stub ``stub`` is the stem of a T whose road runs along the raster's edge.

    True when the two other roads at node ``n`` continue each other (within 30°) and run
    parallel (within 30°) to the raster side the stub ends on (at ``end``).
    """
    g = net.g
    if net.extent is None or g.degree(n) != 3:
        return False
    w, h, tol = net.extent
    x, y = g.nodes[end]["xy"]
    if x < tol or x > w - tol:
        side = np.array([0.0, 1.0])
    elif y < tol or y > h - tol:
        side = np.array([1.0, 0.0])
    else:
        return False  # nodata, not the raster's edge
    dirs = [_direction(d, n) for *_, d in other_edges(g, n, stub)]
    if len(dirs) != 2 or float(np.dot(dirs[0], dirs[1])) > -COS_STRAIGHT:
        return False
    return all(abs(float(np.dot(dv, side))) >= COS_STRAIGHT for dv in dirs)


def _half_width(net: RoadNetwork, n: int, stub: Key) -> float:
    """Half the width of the widest road at node ``n`` (0 when edge ``stub`` continues one).

    A stub that continues another road within 30° through the junction is that road
    reaching the raster's edge, not a whisker (0: never cut).
    """
    g = net.g
    out = _direction(g.edges[stub], n)
    widths = []
    for *_, d in other_edges(g, n, stub):
        if float(np.dot(out, _direction(d, n))) < -COS_STRAIGHT:
            return 0.0
        widths.append(mean_width(d))
    return 0.5 * max(widths, default=0.0)


def _direction(d: dict, n: int, along_m: float = 8.0) -> np.ndarray:
    """Unit vector from node ``n`` along the edge ``d`` (over its first ``along_m`` metres)."""
    c = coords_from(d, n)
    line = shapely.LineString(c)
    p = line.interpolate(min(along_m, line.length))
    v = np.array([p.x - c[0][0], p.y - c[0][1]])
    norm = float(np.hypot(*v))
    return v / norm if norm > 0 else v
