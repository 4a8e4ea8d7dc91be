"""Placing the things around roads: houses, trees, shrubs and cars.

Every placer draws candidates in bulk with numpy and keeps those clear of
roads (vectorised distance queries on a :class:`RoadIndex`), so the scene
stays consistent with its road labels: no building stands on a road, trees
may overhang a road but not grow out of its middle.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import shapely

from roadseg.synth.geometry import rect, rects, tangent
from roadseg.synth.model import Building, Layout, Patch, Road
from roadseg.synth.network import RoadIndex
from roadseg.synth.style import Style, _jitter


class Occupancy:
    """Footprints already placed, hashed on a coarse grid for quick overlap tests."""

    def __init__(self, cell: float = 40.0) -> None:
        self.cell = cell
        self._cells: dict[tuple[int, int], list[shapely.Geometry]] = {}

    def _keys(self, geom: shapely.Geometry) -> list[tuple[int, int]]:
        x0, y0, x1, y1 = geom.bounds
        c = self.cell
        return [
            (i, j)
            for i in range(int(x0 // c), int(x1 // c) + 1)
            for j in range(int(y0 // c), int(y1 // c) + 1)
        ]

    def free(self, geom: shapely.Geometry) -> bool:
        """Return True when ``geom`` overlaps nothing placed so far."""
        return not any(geom.intersects(g) for k in self._keys(geom) for g in self._cells.get(k, ()))

    def add(self, geom: shapely.Geometry) -> None:
        """Mark ``geom`` as taken."""
        for k in self._keys(geom):
            self._cells.setdefault(k, []).append(geom)


def along(road: Road, spacing: float, rng: np.random.Generator, margin: float = 0.0) -> np.ndarray:
    """Jittered positions (m along the road) about ``spacing`` apart."""
    L = road.line.length
    if L <= 2 * margin + 1:
        return np.empty(0)
    s = np.arange(margin + rng.uniform(0, spacing), L - margin, spacing)
    return np.clip(s + rng.normal(0, spacing * 0.12, len(s)), 0, L)


def frames(road: Road, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points (x, y) and headings along a road at distances ``s``."""
    pts = shapely.line_interpolate_point(road.line, s)
    xy = shapely.get_coordinates(pts)
    head = np.array([tangent(road.line, float(v)) for v in s]) if len(s) else np.empty(0)
    return xy[:, 0], xy[:, 1], head


def add_trees(
    layout: Layout,
    index: RoadIndex,
    x: np.ndarray,
    y: np.ndarray,
    r: np.ndarray,
    h: np.ndarray,
    rng: np.random.Generator,
    min_clear: float = 0.5,
) -> int:
    """Add trees whose trunks stand at least ``min_clear`` metres off every road."""
    if len(x) == 0:
        return 0
    ok = index.clearance(shapely.points(x, y), reach=5.0) >= min_clear
    ok &= (x > -20) & (y > -20) & (x < layout.width_m + 20) & (y < layout.height_m + 20)
    shade = rng.uniform(0.8, 1.2, len(x))
    layout.trees.extend(
        zip(
            x[ok].tolist(),
            y[ok].tolist(),
            r[ok].tolist(),
            h[ok].tolist(),
            shade[ok].tolist(),
            strict=True,
        )
    )
    return int(ok.sum())


def street_trees(
    layout: Layout,
    index: RoadIndex,
    road: Road,
    rng: np.random.Generator,
    spacing: float,
    setback: float,
    radius: tuple[float, float],
    both: bool = True,
) -> None:
    """Trees in a row along one or both sides of ``road``."""
    s = along(road, spacing, rng)
    x, y, hd = frames(road, s)
    sides = [1, -1] if both else [int(rng.choice([1, -1]))]
    for side in sides:
        keep = rng.random(len(s)) < 0.85
        off = road.width_m / 2 + setback + rng.normal(0, 0.4, len(s))
        nx, ny = -np.sin(hd) * side, np.cos(hd) * side
        r = rng.uniform(*radius, len(s))
        add_trees(
            layout,
            index,
            (x + nx * off)[keep],
            (y + ny * off)[keep],
            r[keep],
            r[keep] * rng.uniform(1.6, 2.6, len(s))[keep],
            rng,
        )


def median_trees(
    layout: Layout, index: RoadIndex, rng: np.random.Generator, spacing: float
) -> None:
    """Small trees planted along the medians of divided roads (not inside junctions)."""
    for i, road in enumerate(index.roads):
        if road.median_m < 2.0:
            continue
        s = along(road, spacing, rng, margin=5)
        x, y, _ = frames(road, s)
        ok = index.clearance(shapely.points(x, y), reach=8.0, exclude=np.full(len(s), i)) > 4.0
        r = rng.uniform(1.2, min(3.0, road.median_m * 0.9), len(s))
        h = r * rng.uniform(1.8, 2.8, len(s))
        shade = rng.uniform(0.8, 1.2, len(s))
        layout.trees.extend(zip(x[ok], y[ok], r[ok], h[ok], shade[ok], strict=True))


def scatter_trees(
    layout: Layout,
    index: RoadIndex,
    region: shapely.Geometry,
    per_ha: float,
    radius: tuple[float, float],
    rng: np.random.Generator,
    height_k: tuple[float, float] = (1.6, 2.6),
    min_clear: float = 0.5,
) -> None:
    """Random trees (or shrubs) in ``region`` at ``per_ha`` per hectare."""
    if region is None or region.is_empty or per_ha <= 0:
        return
    x0, y0, x1, y1 = region.bounds
    n = rng.poisson(per_ha * (x1 - x0) * (y1 - y0) / 10_000.0)
    if n == 0:
        return
    x, y = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
    inside = shapely.contains_xy(region, x, y)
    r = rng.uniform(*radius, n)
    h = r * rng.uniform(*height_k, n)
    add_trees(layout, index, x[inside], y[inside], r[inside], h[inside], rng, min_clear)


def traffic(
    layout: Layout,
    index: RoadIndex,
    rng: np.random.Generator,
    per_km_lane: float,
    parked_per_km: float = 0.0,
) -> None:
    """Cars driving in the lanes of paved roads (and parked along minor roads)."""
    for i, road in enumerate(index.roads):
        if not road.paved or road.road_class == "track":
            continue
        vis = road.line.intersection(layout.box.buffer(10)).length
        if vis <= 0:
            continue
        for off in road.lane_centres():
            n = rng.poisson(per_km_lane * vis / 1000.0)
            _cars_on(layout, index, i, road, rng, n, off, off < 0)
        if parked_per_km > 0 and road.road_class == "minor":
            for side in (1, -1):
                n = rng.poisson(parked_per_km * vis / 1000.0)
                _cars_on(layout, index, i, road, rng, n, side * (road.width_m / 2 - 1.1), side < 0)


def _cars_on(
    layout: Layout,
    index: RoadIndex,
    i: int,
    road: Road,
    rng: np.random.Generator,
    n: int,
    lateral: float,
    reverse: bool,
) -> None:
    if n == 0:
        return
    s = np.sort(rng.uniform(0, road.line.length, n))
    length = rng.uniform(4.2, 5.2, n)
    keep = np.ones(n, bool)
    keep[1:] = np.diff(s) > length[1:] + 1.5
    s, length = s[keep], length[keep]
    x, y, hd = frames(road, s)
    nx, ny = -np.sin(hd), np.cos(hd)
    cx, cy = x + nx * lateral, y + ny * lateral
    # Not inside junctions: the car must be clear of every other road.
    clear = index.clearance(shapely.points(cx, cy), reach=5.0, exclude=np.full(len(s), i)) > 1.5
    heading = hd + (math.pi if reverse else 0.0)
    width = rng.uniform(1.75, 2.0, len(s))
    colour = rng.integers(0, 9, len(s))
    layout.cars.extend(
        zip(
            cx[clear],
            cy[clear],
            heading[clear],
            length[clear],
            width[clear],
            colour[clear],
            strict=True,
        )
    )


def houses_along(
    layout: Layout,
    index: RoadIndex,
    road: Road,
    style: Style,
    rng: np.random.Generator,
    sidewalk: float,
    taken: Occupancy,
) -> None:
    """Detached houses with lawns, driveways, pools and yard trees on both sides of ``road``."""
    spacing = rng.uniform(18, 27)
    s = along(road, spacing, rng, margin=12)
    if len(s) == 0:
        return
    x, y, hd = frames(road, s)
    lawn_base = (
        _jitter(rng, style.grass, 0.06)
        if style.biome != "desert" or rng.random() < 0.4
        else _jitter(rng, style.ground[2], 0.05)
    )
    for side in (1, -1):
        n = len(s)
        depth = rng.uniform(9, 14, n)
        front = np.minimum(rng.uniform(11, 18, n), spacing - 4)
        setback = rng.uniform(5, 9, n)
        edge = road.width_m / 2 + sidewalk
        off = edge + setback + depth / 2
        nx, ny = -np.sin(hd) * side, np.cos(hd) * side
        cx, cy = x + nx * off, y + ny * off
        polys = rects(cx, cy, front, depth, hd)
        clear = index.clearance(polys, reach=6.0) > 2.5
        for k in np.flatnonzero(clear):
            poly = polys[k]
            if not taken.free(poly):
                continue
            taken.add(poly.buffer(1.5))
            back = rng.uniform(8, 16)
            lot_depth = setback[k] + depth[k] + back
            lc = edge + lot_depth / 2
            layout.patches.append(
                Patch(
                    rect(x[k] + nx[k] * lc, y[k] + ny[k] * lc, spacing - 0.6, lot_depth, hd[k]),
                    "lawn",
                    _jitter(rng, lawn_base, 0.05),
                    hd[k] + rng.choice([0, math.pi / 2]),
                    float(rng.uniform(1.2, 2.5)) if rng.random() < 0.4 else 0.0,
                )
            )
            # Driveway from the road edge to the house front, at one end of the house.
            t_off = rng.choice([-1, 1]) * (front[k] / 2 - rng.uniform(2, 3))
            tx, ty = np.cos(hd[k]) * t_off, np.sin(hd[k]) * t_off
            dlen = setback[k] + road.width_m / 4 + sidewalk
            dc = edge + setback[k] - dlen / 2
            dw = rng.uniform(3.0, 5.5)
            layout.patches.append(
                Patch(
                    rect(
                        x[k] + nx[k] * dc + tx,
                        y[k] + ny[k] * dc + ty,
                        dw,
                        dlen,
                        hd[k] + math.pi / 2,
                    ),
                    "concrete",
                    _jitter(rng, style.concrete, 0.05),
                )
            )
            if rng.random() < 0.35:
                dd = edge + setback[k] - 3.0
                layout.cars.append(
                    (
                        x[k] + nx[k] * dd + tx,
                        y[k] + ny[k] * dd + ty,
                        hd[k] + math.pi / 2 * side,
                        rng.uniform(4.2, 5.0),
                        rng.uniform(1.75, 1.95),
                        int(rng.integers(0, 9)),
                    )
                )
            roof: Literal["gable", "hip"] = "hip" if rng.random() < 0.45 else "gable"
            layout.buildings.append(
                Building(
                    cx[k],
                    cy[k],
                    front[k],
                    depth[k],
                    hd[k],
                    rng.uniform(4, 8),
                    roof,
                    style.roofs[int(rng.integers(len(style.roofs)))],
                )
            )
            bc = off[k] + depth[k] / 2 + back / 2
            if rng.random() < (0.35 if style.biome != "green" else 0.15):
                pw, pl = rng.uniform(3.5, 5), rng.uniform(7, 10)
                pool = rect(
                    x[k] + nx[k] * bc + tx * 0.3, y[k] + ny[k] * bc + ty * 0.3, pl, pw, hd[k]
                )
                layout.patches.append(
                    Patch(pool.buffer(0.6, join_style="mitre"), "concrete", style.concrete)
                )
                layout.patches.append(Patch(pool, "pool", _jitter(rng, (70, 160, 196), 0.06)))
            nt = rng.poisson(1.2)
            if nt:
                u = rng.uniform(-spacing / 2, spacing / 2, nt)
                v = rng.uniform(edge + 1, edge + lot_depth, nt)
                txs = x[k] + nx[k] * v + np.cos(hd[k]) * u
                tys = y[k] + ny[k] * v + np.sin(hd[k]) * u
                inside = ~shapely.intersects_xy(poly.buffer(1.0), txs, tys)
                r = rng.uniform(2.0, 4.5, nt)
                add_trees(
                    layout,
                    index,
                    txs[inside],
                    tys[inside],
                    r[inside],
                    (r * rng.uniform(1.5, 2.5, nt))[inside],
                    rng,
                )
