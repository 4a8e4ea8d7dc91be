"""Network cleaning on the centreline graph (after tracing; metres in the metric frame).

* **collapse small loops** — the faces of the (planar) network enclosing less than
  ``max_area_m2`` are not blocks: each loses its longest side (the other sides
  keep the connection), smallest faces first, until none is left. This catches the
  loops the mask step (:mod:`roadseg.vectorization.clean_mask`) could not see, e.g.
  those closed by gap bridging or wider than its width limit.
* **drop edge stubs** — dead ends shorter than ``stub_m`` ending on the raster's
  edge or at nodata are cut: a road leaving the raster keeps its line, but the
  short whiskers that skeletons grow along a raster edge go.

Faces are found by walking the planar embedding: at every node, edges are ordered
by the direction of their first segment; each half-edge is followed by the next
one clockwise at its end node. Inner faces have positive area.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import shapely

if TYPE_CHECKING:
    from roadseg.vectorization.network import RoadNetwork

Key = tuple[int, int, int]


def _coords_from(d: dict, n: int) -> np.ndarray:
    """Edge coordinates running away from node ``n``."""
    c = shapely.get_coordinates(d["geom"])
    return c if d["src"] == n else c[::-1]


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
            c = _coords_from(d, a)
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
                ring.append(_coords_from(g.edges[key], a)[:-1])
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


def collapse_small_loops(net: RoadNetwork, max_area_m2: float) -> int:
    """Remove the longest side of every face smaller than ``max_area_m2`` (see the docstring)."""
    if max_area_m2 <= 0:
        return 0
    g = net.g
    removed = 0
    for _ in range(1000):
        small = [f for f in faces(net) if f[0] < max_area_m2]
        if not small:
            break
        touched: set[int] = set()
        done: set[Key] = set()
        for _, keys in small:
            if any(k in done or not g.has_edge(*k) for k in keys):
                continue
            # Sides walked twice are bridges (dangling inside the face): never removed.
            once = [k for k in keys if keys.count(k) == 1]
            if not once:
                continue
            u, v, k = max(once, key=lambda e: (g.edges[e]["length"], e))
            g.remove_edge(u, v, k)
            done.update(keys)
            touched.update((u, v))
            removed += 1
        for n in touched:
            if n in g and g.degree(n) == 0:
                g.remove_node(n)
        net.dissolve([n for n in touched if n in g])
    return removed


def drop_edge_stubs(net: RoadNetwork, stub_m: float) -> int:
    """Remove dead ends shorter than ``stub_m`` that end on the raster's edge or at nodata."""
    if stub_m <= 0:
        return 0
    g = net.g
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
            if du == 1 and dv == 1 or g.degree(other) >= 3:
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
