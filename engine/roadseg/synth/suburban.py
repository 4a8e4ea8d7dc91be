"""Suburban layout: arterials, curving collectors, side streets and cul-de-sacs with houses."""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.ops import substring

from roadseg.synth.coverage import add_track, ensure_classes
from roadseg.synth.furnish import (
    Occupancy,
    houses_along,
    median_trees,
    scatter_trees,
    street_trees,
    traffic,
)
from roadseg.synth.geometry import rect, tangent, wavy
from roadseg.synth.lots import office_block, parking_lot
from roadseg.synth.model import Layout, Road
from roadseg.synth.network import RoadIndex, add_branch_road, make_road, union_of
from roadseg.synth.style import Style

MARGIN_M = 40.0


def _arterial(rng: np.random.Generator, W: float, H: float, angle: float) -> shapely.LineString:
    c = np.array([rng.uniform(0.15, 0.85) * W, rng.uniform(0.15, 0.85) * H])
    half = math.hypot(W, H) / 2 + MARGIN_M + math.hypot(c[0] - W / 2, c[1] - H / 2)
    d = np.array([math.cos(angle), math.sin(angle)]) * half
    return wavy(c - d, c + d, [rng.normal(0, 0.05 * half), rng.normal(0, 0.02 * half)])


def suburban(rng: np.random.Generator, style: Style, W: float, H: float) -> Layout:
    """Build a suburban scene of ``W`` × ``H`` metres."""
    lay = Layout(
        W, H, "suburban", sidewalk_m=float(rng.uniform(0.0, 1.8)) if rng.random() < 0.7 else 0.0
    )
    a0 = rng.uniform(0, math.pi)
    lay.roads.append(make_road(rng, _arterial(rng, W, H, a0), "major"))
    area = W * H / 512.0**2  # scene area in units of the default scene
    for k in range(int(rng.random() < 0.5) + rng.poisson(0.4 * max(area - 1, 0))):
        a = a0 + (math.pi / 2 if k % 2 == 0 else 0.0) + rng.normal(0, 0.2)
        lay.roads.append(make_road(rng, _arterial(rng, W, H, a), "major"))
    box = shapely.box(-MARGIN_M, -MARGIN_M, W + MARGIN_M, H + MARGIN_M)

    collectors = []
    for major in list(lay.roads):
        s = rng.uniform(20, 120)
        while s < major.line.length:
            if box.contains(major.line.interpolate(s)):
                for side in (1, -1):
                    if rng.random() < 0.7:
                        r = add_branch_road(
                            lay,
                            rng,
                            major,
                            "minor",
                            s + rng.normal(0, 10),
                            side,
                            rng.uniform(150, 500),
                            0.004,
                        )
                        if r is not None:
                            collectors.append(r)
            s += rng.uniform(140, 260)
    for col in collectors:
        s = rng.uniform(30, 60)
        while s < col.line.length - 20:
            for side in (1, -1):
                if rng.random() < 0.75 and box.contains(col.line.interpolate(s)):
                    add_branch_road(
                        lay,
                        rng,
                        col,
                        "minor",
                        s,
                        side,
                        rng.uniform(50, 200),
                        0.006,
                        min_length=30,
                        bulb_m=rng.uniform(8, 11) if rng.random() < 0.7 else 0.0,
                    )
            s += rng.uniform(60, 100)
        if rng.random() < 0.35 and col.line.length > 200:
            _crescent(lay, rng, col)
    for _ in range(1 + int(rng.random() < 0.5) + rng.poisson(0.5 * max(area - 1, 0))):
        add_track(lay, rng)
    ensure_classes(lay, rng)

    index = RoadIndex(lay.roads)
    taken = Occupancy()
    if rng.random() < 0.5:
        _shops(lay, rng, style, index, taken)
    for road in lay.roads:
        if road.road_class == "minor":
            houses_along(lay, index, road, style, rng, lay.sidewalk_m, taken)
            if rng.random() < 0.3:
                street_trees(
                    lay, index, road, rng, rng.uniform(9, 16), lay.sidewalk_m + 0.8, (2.0, 3.5)
                )
        elif road.road_class == "major" and rng.random() < 0.4:
            street_trees(
                lay, index, road, rng, rng.uniform(8, 14), lay.sidewalk_m + 1.0, (2.0, 4.0)
            )
    if rng.random() < 0.6:
        median_trees(lay, index, rng, rng.uniform(9, 16))
    lots = shapely.union_all([p.polygon for p in lay.patches]) if lay.patches else None
    wild = box if lots is None else box.difference(lots.buffer(2))
    scatter_trees(lay, index, wild, style.shrubs_per_ha, (0.5, 1.4), rng, (0.8, 1.4))
    scatter_trees(lay, index, wild, rng.uniform(0, 8), (2.0, 4.5), rng)
    traffic(lay, index, rng, rng.uniform(3, 12), rng.uniform(2, 12))
    return lay


def _crescent(lay: Layout, rng: np.random.Generator, col: Road) -> None:
    """Return a loop street leaving a collector and coming back to it a little further on."""
    line = col.line
    s1 = rng.uniform(20, line.length - 160)
    s2 = s1 + rng.uniform(90, 150)
    p1, p2 = line.interpolate(s1), line.interpolate(s2)
    side = rng.choice([-1, 1])
    # The bulge goes to the chosen side of the collector's direction.
    th = tangent(line, (s1 + s2) / 2)
    bulge = rng.uniform(50, 90)
    loop = wavy((p1.x, p1.y), (p2.x, p2.y), [0.0])
    n = np.array([-math.sin(th), math.cos(th)]) * side
    c = np.asarray(loop.coords)
    t = np.linspace(0, 1, len(c))
    c = c + np.outer(np.sin(math.pi * t) * bulge, n)
    loop = shapely.LineString(c)
    others = union_of(lay)
    inner = substring(loop, 4.0, loop.length - 4.0)
    if others is not None and inner.intersects(others):
        return
    lay.roads.append(make_road(rng, loop, "minor"))


def _shops(
    lay: Layout, rng: np.random.Generator, style: Style, index: RoadIndex, taken: Occupancy
) -> None:
    """Return a strip mall beside an arterial: a big flat-roofed building and its parking lot."""
    major = next(r for r in lay.roads if r.road_class == "major")
    inside = major.line.intersection(lay.box)
    if inside.length < 80:
        return
    p = shapely.line_interpolate_point(inside, rng.uniform(0.2, 0.8), normalized=True)
    s = major.line.project(p)
    th = tangent(major.line, s)
    side = rng.choice([-1, 1])
    n = np.array([-math.sin(th), math.cos(th)]) * side
    L, D = rng.uniform(80, 160), rng.uniform(70, 110)
    cx, cy = np.array([p.x, p.y]) + n * (major.width_m / 2 + lay.sidewalk_m + 4 + D / 2)
    site = rect(cx, cy, L, D, th)
    if index.clearance(np.array([site]), reach=5.0)[0] < 1.0 or not taken.free(site):
        return
    taken.add(site.buffer(3))
    front = D * rng.uniform(0.45, 0.6)
    pc = np.array([cx, cy]) - n * (D / 2 - front / 2)
    parking_lot(lay, rng, style, site, pc[0], pc[1], L, front, th, rng.uniform(0.2, 0.7))
    bc = np.array([cx, cy]) + n * (front / 2)
    office_block(
        lay,
        rng,
        style,
        rect(bc[0], bc[1], L, D - front, th).buffer(0.5),
        (bc[0], bc[1], L - 4, D - front - 4, th),
        Occupancy(),
        index,
    )
