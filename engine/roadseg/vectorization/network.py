"""The centreline network: assemble block edges, dissolve, prune, bridge, simplify.

A :class:`RoadNetwork` is a :class:`networkx.MultiGraph` in the local metric
frame (see :mod:`roadseg.vectorization.frame`). Node attribute ``xy``; edge attributes
``geom`` (LineString starting at node ``src``), ``counts`` (road pixels per class),
``wsum``/``npix`` (width sum and pixel count), ``length`` (metres) and ``bridges``
(gaps bridged inside the edge). Every edge's geometry starts and ends exactly at
its nodes' ``xy``, so lines meet exactly at junctions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import shapely
import shapely.ops
from scipy.spatial import cKDTree
from shapely.geometry import LineString

from roadseg.vectorization.edge_data import mean_width
from roadseg.vectorization.pixelgraph import BlockEdges

if TYPE_CHECKING:
    from roadseg.vectorization.params import Resolved

#: Road support of a line: (N, 2) metric coordinates → fraction on road pixels.
Support = Callable[[np.ndarray], float]

#: How far back from an end its direction is measured (metres, capped by the edge length).
DIRECTION_M = 8.0


class RoadNetwork:
    """A road centreline graph being built and cleaned.

    Args:
        num_classes: Number of classes (background included).

    """

    def __init__(self, num_classes: int, extent: tuple[float, float, float] | None = None) -> None:
        self.g: nx.MultiGraph = nx.MultiGraph()
        self.num_classes = num_classes
        #: (width, height, tolerance) of the raster in the metric frame: dead ends this
        #: close to its edge are roads leaving the raster, not spurs.
        self.extent = extent
        self._border: set[int] = set()
        self._links: set[tuple[int, int]] = set()
        #: Cut node → (class id, width) of its pixel, added to the edge that dissolves it.
        self._cut_px: dict[int, tuple[int, float]] = {}

    # ------------------------------------------------------------------ building
    def add(self, edges: BlockEdges) -> None:
        """Add a block's edges (node–node links seen by two blocks are added once)."""
        self._border.update(edges.border_ids.tolist())
        for gid, c, w in zip(
            edges.cut_ids.tolist(), edges.cut_cls.tolist(), edges.cut_w.tolist(), strict=True
        ):
            self._cut_px[gid] = (c, w)
        if not len(edges):
            return
        first = shapely.get_coordinates(shapely.get_point(edges.geoms, 0))
        last = shapely.get_coordinates(shapely.get_point(edges.geoms, -1))
        lengths = shapely.length(edges.geoms)
        g = self.g
        for i in range(len(edges)):
            u, v = int(edges.u[i]), int(edges.v[i])
            if edges.npix[i] == 0:
                key = (min(u, v), max(u, v))
                if key in self._links:
                    continue
                self._links.add(key)
            g.add_node(u, xy=(float(first[i, 0]), float(first[i, 1])))
            g.add_node(v, xy=(float(last[i, 0]), float(last[i, 1])))
            g.add_edge(
                u,
                v,
                geom=edges.geoms[i],
                src=u,
                counts=edges.counts[i].copy(),
                wsum=float(edges.wsum[i]),
                npix=int(edges.npix[i]),
                length=float(lengths[i]),
                bridges=0,
            )

    # ------------------------------------------------------------------ cleaning
    def dissolve(self, nodes: Iterable[int] | None = None) -> None:
        """Merge the two edges of every degree-2 node (not on a loop) into one."""
        g = self.g
        todo = list(g.nodes) if nodes is None else list(nodes)
        for n in todo:
            if n in g and g.degree(n) == 2 and not g.has_edge(n, n):
                self._merge_at(n)

    def _merge_at(self, n: int) -> None:
        g = self.g
        (_, a, k1, d1), (_, b, k2, d2) = list(g.edges(n, keys=True, data=True))
        c1 = shapely.get_coordinates(d1["geom"])
        c2 = shapely.get_coordinates(d2["geom"])
        if d1["src"] == n:
            c1 = c1[::-1]  # now a → n
        if d2["src"] != n:
            c2 = c2[::-1]  # now n → b
        geom = LineString(np.vstack([c1, c2[1:]]))
        counts = d1["counts"] + d2["counts"]
        wsum, npix = d1["wsum"] + d2["wsum"], d1["npix"] + d2["npix"]
        px = self._cut_px.pop(n, None)
        if px is not None:
            if 0 < px[0] < counts.size:
                counts[px[0]] += 1
            wsum, npix = wsum + px[1], npix + 1
        g.remove_node(n)
        g.add_edge(
            a,
            b,
            geom=geom,
            src=a,
            counts=counts,
            wsum=wsum,
            npix=npix,
            length=d1["length"] + d2["length"],
            bridges=d1["bridges"] + d2["bridges"],
        )

    def drop_zero_length(self, eps: float = 1e-9) -> None:
        """Remove edges of zero length, joining their two nodes."""
        g = self.g
        for u, v, k, d in list(g.edges(keys=True, data=True)):
            if d["length"] > eps or not g.has_edge(u, v, k):
                continue
            g.remove_edge(u, v, k)
            if u != v:
                for _, w, _, dd in list(g.edges(v, keys=True, data=True)):
                    dd = dict(dd)
                    if dd["src"] == v:
                        dd["src"] = u
                    g.add_edge(u, u if w == v else w, **dd)
                g.remove_node(v)
            if g.degree(u) == 0:
                g.remove_node(u)

    def on_border(self, n: int) -> bool:
        """Tell whether node ``n`` lies on the raster's edge or touches nodata."""
        if n in self._border:
            return True
        if self.extent is None:
            return False
        w, h, tol = self.extent
        x, y = self.g.nodes[n]["xy"]
        return x < tol or y < tol or x > w - tol or y > h - tol

    def prune(self, min_length: float) -> int:
        """Remove spurs (dead-end edges off a junction) and small loops shorter than ``min_length``.

        Repeats until nothing changes: shortest spurs first, junctions left with two
        edges are dissolved, so spurs of spurs go too. Dead ends on the raster's
        edge are roads leaving the raster and are kept. Returns the edges removed.
        """
        g = self.g
        removed = 0
        while True:
            cand = sorted(
                (d["length"], min(u, v), u, v, k)
                for u, v, k, d in g.edges(keys=True, data=True)
                if d["length"] < min_length
            )
            touched: list[int] = []
            for _, _, u, v, k in cand:
                if not g.has_edge(u, v, k):
                    continue
                du, dv = g.degree(u), g.degree(v)
                if u == v:
                    g.remove_edge(u, v, k)
                    touched.append(u)
                elif (du == 1 and dv >= 3) or (dv == 1 and du >= 3):
                    leaf, other = (u, v) if du == 1 else (v, u)
                    if self.on_border(leaf):
                        continue
                    g.remove_edge(u, v, k)
                    g.remove_node(leaf)
                    touched.append(other)
                else:
                    continue
                removed += 1
            if not touched:
                break
            for n in touched:
                if n in g and g.degree(n) == 0:
                    g.remove_node(n)
            self.dissolve(touched)
        return removed

    def drop_small_components(self, min_length: float, with_width: bool = False) -> int:
        """Remove connected pieces shorter in total than ``min_length`` (not on the raster edge).

        ``with_width`` adds the piece's widest road (the largest mean width of its edges) to
        its length: a skeleton stops half a width short of each end of its road, so a wide
        blob (a plaza, a road filling the raster) spans its length plus its width.
        """
        g = self.g
        gone = 0
        for comp in list(nx.connected_components(g)):
            edges = [d for _, _, d in g.subgraph(comp).edges(data=True)]
            total = sum(d["length"] for d in edges)
            if with_width:
                total += max((mean_width(d) for d in edges), default=0.0)
            if total < min_length and not any(self.on_border(n) for n in comp):
                g.remove_nodes_from(comp)
                gone += 1
        return gone

    def end_directions(self, ends: list[int]) -> np.ndarray:
        """Return unit vectors pointing out of each dead end, along its last metres."""
        out = np.zeros((len(ends), 2))
        for i, n in enumerate(ends):
            (_, _, d) = next(iter(self.g.edges(n, data=True)))
            line = d["geom"]
            back = min(DIRECTION_M, line.length)
            # Point ``back`` metres from the end, then direction end - point.
            at_start = d["src"] == n
            p = line.interpolate(back if at_start else line.length - back)
            x, y = self.g.nodes[n]["xy"]
            v = np.array([x - p.x, y - p.y])
            nv = float(np.hypot(*v))
            out[i] = v / nv if nv > 0 else 0.0
        return out

    def new_node(self, xy: tuple[float, float]) -> int:
        """Add a node at ``xy`` with an id after every existing one and return the id."""
        n = max(self.g.nodes, default=-1) + 1
        self.g.add_node(n, xy=(float(xy[0]), float(xy[1])))
        return n

    def split_edge(self, u: int, v: int, k: int, point: np.ndarray, tol: float) -> int:
        """Return the node at ``point`` on edge ``(u, v, k)``.

        An end node within ``tol``, else a new node splitting the edge (its pixel tallies
        shared by length).
        """
        g = self.g
        d = g.edges[u, v, k]
        line = d["geom"]
        s = float(line.project(shapely.Point(point)))
        a, b = (u, v) if d["src"] == u else (v, u)
        if s <= tol:
            return a
        if s >= line.length - tol:
            return b
        n = self.new_node(tuple(shapely.get_coordinates(line.interpolate(s))[0]))
        g.remove_edge(u, v, k)
        frac = s / line.length
        for lo, hi, p, q, f in ((0.0, s, a, n, frac), (s, line.length, n, b, 1.0 - frac)):
            c = shapely.get_coordinates(shapely.ops.substring(line, lo, hi))
            c[0], c[-1] = g.nodes[p]["xy"], g.nodes[q]["xy"]
            geom = LineString(c)
            g.add_edge(
                p,
                q,
                geom=geom,
                src=p,
                counts=np.round(d["counts"] * f).astype(d["counts"].dtype),
                wsum=d["wsum"] * f,
                npix=int(round(d["npix"] * f)),
                length=float(geom.length),
                bridges=d["bridges"] if p == a else 0,
            )
        return n

    def add_link(self, a: int, b: int) -> None:
        """Add a straight bridge edge between nodes ``a`` and ``b``."""
        geom = LineString([self.g.nodes[a]["xy"], self.g.nodes[b]["xy"]])
        self.g.add_edge(
            a,
            b,
            geom=geom,
            src=a,
            counts=np.zeros(self.num_classes, np.int64),
            wsum=0.0,
            npix=0,
            length=float(geom.length),
            bridges=1,
        )

    def bridge(self, max_gap: float, max_angle_deg: float = 30.0) -> int:
        """Join dead ends closer than ``max_gap`` that face each other.

        Two ends are joined when the gap between them deviates by at most
        ``max_angle_deg`` from each end's outward direction. Closest pairs first;
        each end is used once. Returns the bridges added.
        """
        g = self.g
        if max_gap <= 0:
            return 0
        ends = [n for n, dg in g.degree() if dg == 1]
        if len(ends) < 2:
            return 0
        pts = np.array([g.nodes[n]["xy"] for n in ends])
        dirs = self.end_directions(ends)
        pairs = cKDTree(pts).query_pairs(max_gap, output_type="ndarray")
        if pairs.size == 0:
            return 0
        gap = pts[pairs[:, 1]] - pts[pairs[:, 0]]
        dist = np.hypot(gap[:, 0], gap[:, 1])
        ok = dist > 0
        unit = gap / np.where(dist > 0, dist, 1.0)[:, None]
        cos_t = math.cos(math.radians(max_angle_deg))
        ok &= (dirs[pairs[:, 0]] * unit).sum(1) >= cos_t
        ok &= (dirs[pairs[:, 1]] * -unit).sum(1) >= cos_t
        used: set[int] = set()
        added = 0
        for j in np.flatnonzero(ok)[np.argsort(dist[ok], kind="stable")]:
            a, b = int(pairs[j, 0]), int(pairs[j, 1])
            na, nb = ends[a], ends[b]
            if a in used or b in used or g.has_edge(na, nb):
                continue
            used.update((a, b))
            geom = LineString([pts[a], pts[b]])
            g.add_edge(
                na,
                nb,
                geom=geom,
                src=na,
                counts=np.zeros(self.num_classes, np.int64),
                wsum=0.0,
                npix=0,
                length=float(dist[j]),
                bridges=1,
            )
            added += 1
        self.dissolve([ends[i] for i in used])
        return added

    def simplify(self, tolerance: float) -> None:
        """Douglas–Peucker on every edge (end points kept; loops stay rings)."""
        if tolerance <= 0 or self.g.number_of_edges() == 0:
            return
        edges = list(self.g.edges(keys=True, data=True))
        geoms = np.array([d["geom"] for *_, d in edges], dtype=object)
        loops = np.array([u == v for u, v, _, _ in edges])
        out = np.empty(len(edges), dtype=object)
        out[~loops] = shapely.simplify(geoms[~loops], tolerance, preserve_topology=False)
        if loops.any():
            out[loops] = shapely.simplify(geoms[loops], tolerance, preserve_topology=True)
        lengths = shapely.length(out)
        for (_, _, _, d), geom, length in zip(edges, out, lengths, strict=True):
            d["geom"] = geom
            d["length"] = float(length)

    def clean(self, p: Resolved, support: Support | None = None) -> dict[str, int]:
        """Run the whole clean-up with the settings ``p`` (steps with 0 are off).

        Dissolve, prune, drop specks, straighten roads leaving the raster
        (:mod:`roadseg.vectorization.edge_ends`), bridge facing ends, bridge ends onto roads (where
        ``support`` says the prediction covers the bridge:
        :mod:`roadseg.vectorization.bridge_roads`), drop short lone pieces, merge close junctions
        (:mod:`roadseg.vectorization.junctions`), collapse small loops, drop edge stubs,
        simplify (see :mod:`roadseg.vectorization.clean_graph`).
        """
        from roadseg.vectorization.bridge_roads import bridge_to_roads
        from roadseg.vectorization.clean_graph import collapse_small_loops, drop_edge_stubs
        from roadseg.vectorization.edge_ends import straighten_edge_ends
        from roadseg.vectorization.junctions import merge_close_junctions

        self.dissolve()
        self.drop_zero_length()
        pruned = self.prune(p.prune_m)
        specks = self.drop_small_components(p.prune_m)
        straightened = straighten_edge_ends(self, DIRECTION_M, support)
        bridged = self.bridge(p.bridge_m, p.bridge_angle_deg)
        onto = bridge_to_roads(self, p.road_bridge_m, p.bridge_angle_deg, support)
        pieces = self.drop_small_components(p.min_piece_m, with_width=True)
        junctions = merge_close_junctions(self, p.junction_m)
        loops = collapse_small_loops(self, p.loop_area_m2, p.loop_extent_m)
        stubs = drop_edge_stubs(self, p.stub_m)
        self.simplify(p.simplify_m)
        self.drop_zero_length()
        return {
            "spurs_pruned": pruned,
            "specks_removed": specks,
            "edge_ends_straightened": straightened,
            "gaps_bridged": bridged,
            "ends_joined_to_roads": onto,
            "pieces_dropped": pieces,
            "junctions_merged": junctions,
            "loops_collapsed": loops,
            "stubs_dropped": stubs,
        }
