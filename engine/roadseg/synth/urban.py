"""Urban layout: a street grid with arterials, blocks of buildings, parking lots and parks."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import shapely
from shapely.geometry import LineString

from roadseg.synth.coverage import ensure_classes
from roadseg.synth.furnish import Occupancy, median_trees, street_trees, traffic
from roadseg.synth.geometry import rect, wavy
from roadseg.synth.lots import office_block, park, parking_lot, vacant
from roadseg.synth.model import Layout
from roadseg.synth.network import RoadIndex, make_road
from roadseg.synth.style import Style

MARGIN_M = 40.0


def _axis(rng: np.random.Generator, reach: float, spacing: tuple[float, float]) -> np.ndarray:
    """Street positions from −reach to +reach with slightly varying spacing."""
    step = rng.uniform(*spacing)
    pos = [-reach - rng.uniform(0, step)]
    while pos[-1] < reach:
        pos.append(pos[-1] + step * rng.uniform(0.85, 1.15))
    return np.array(pos)


def urban(rng: np.random.Generator, style: Style, W: float, H: float) -> Layout:
    """Build an urban scene of ``W`` × ``H`` metres."""
    lay = Layout(W, H, "urban", sidewalk_m=float(rng.uniform(1.5, 3.0)))
    theta = 0.0 if rng.random() < 0.35 else rng.uniform(-0.35, 0.35)
    eu = np.array([math.cos(theta), math.sin(theta)])
    ev = np.array([-math.sin(theta), math.cos(theta)])
    centre = np.array([W / 2, H / 2])
    reach = math.hypot(W, H) / 2 + MARGIN_M
    us = _axis(rng, reach, (80, 150))
    vs = _axis(rng, reach, (60, 120))

    def world(u: float, v: float) -> tuple[float, float]:
        p = centre + u * eu + v * ev
        return (float(p[0]), float(p[1]))

    # Arterials: every n-th street, with one of them close to the scene centre.
    def majors(pos: np.ndarray) -> set[int]:
        n = int(rng.integers(3, 6))
        j0 = int(np.argmin(np.abs(pos - rng.uniform(-0.3, 0.3) * min(W, H))))
        return {j for j in range(len(pos)) if (j - j0) % n == 0}

    maj_u, maj_v = majors(us), majors(vs) if rng.random() < 0.8 else set()
    for pos, other, is_u, maj in ((us, vs, True, maj_u), (vs, us, False, maj_v)):
        for j, p in enumerate(pos):
            pts = [world(p, q) if is_u else world(q, p) for q in other]
            if j in maj:
                lay.roads.append(make_road(rng, LineString(pts), "major"))
                continue
            keep = rng.random(len(pts) - 1) > 0.12
            run: list[tuple[float, float]] = []
            for k in range(len(pts) - 1):
                if keep[k]:
                    run = run or [pts[k]]
                    run.append(pts[k + 1])
                elif run:
                    lay.roads.append(make_road(rng, LineString(run), "minor"))
                    run = []
            if run:
                lay.roads.append(make_road(rng, LineString(run), "minor"))
    if rng.random() < 0.35:
        a = theta + math.pi / 4 * rng.choice([-1, 1]) + rng.normal(0, 0.1)
        c = centre + rng.uniform(-0.25, 0.25, 2) * (W, H)
        d = np.array([math.cos(a), math.sin(a)]) * reach * 1.2
        lay.roads.append(make_road(rng, wavy(c - d, c + d, [rng.normal(0, 20)]), "major"))

    # One vacant block near the middle, crossed by a dirt track between two of its streets.
    pu, pv = (rng.uniform(-0.2, 0.2, 2) * (W, H)) @ np.stack([eu, ev]).T
    iv, jv = int(np.searchsorted(us, pu)) - 1, int(np.searchsorted(vs, pv)) - 1
    _cross_track(lay, rng, world, us, vs, iv, jv)
    ensure_classes(lay, rng)

    index = RoadIndex(lay.roads)
    taken = Occupancy()
    box = shapely.box(-MARGIN_M, -MARGIN_M, W + MARGIN_M, H + MARGIN_M)
    # Patches reach under the sidewalks (no seam of bare ground); buildings keep clear of them.
    roads_area = shapely.union_all([r.surface(lay.sidewalk_m) for r in lay.roads])
    tracks = shapely.union_all([r.surface(2.0) for r in lay.roads if r.road_class == "track"])
    for i in range(len(us) - 1):
        for j in range(len(vs) - 1):
            du, dv = us[i + 1] - us[i], vs[j + 1] - vs[j]
            c = world((us[i] + us[i + 1]) / 2, (vs[j] + vs[j + 1]) / 2)
            cell = rect(c[0], c[1], du, dv, theta)
            if not cell.intersects(box):
                continue
            area = cell.difference(roads_area)
            if area.is_empty or area.area < 200:
                continue
            frame = (
                c[0],
                c[1],
                du - 2 * (8 + lay.sidewalk_m),
                dv - 2 * (8 + lay.sidewalk_m),
                theta,
            )
            if (i, j) == (iv, jv) or area.intersects(tracks):
                vacant(lay, rng, style, area, index)
                continue
            use = rng.random()
            if use < 0.15:
                parking_lot(lay, rng, style, area, *frame, rng.uniform(0.2, 0.9))
            elif use < 0.23:
                park(lay, rng, style, area, index)
            elif use < 0.28:
                vacant(lay, rng, style, area, index)
                if rng.random() < 0.5:
                    _cross_track(lay, rng, world, us, vs, i, j)
            else:
                office_block(lay, rng, style, area, frame, taken, index)
    index = RoadIndex(lay.roads)
    for road in lay.roads:
        if road.road_class != "track" and rng.random() < (
            0.15 if style.biome == "desert" else 0.35
        ):
            street_trees(
                lay, index, road, rng, rng.uniform(9, 18), lay.sidewalk_m / 2 + 0.3, (2.0, 4.0)
            )
    if rng.random() < 0.5:
        median_trees(lay, index, rng, rng.uniform(8, 14))
    traffic(lay, index, rng, rng.uniform(15, 45), rng.uniform(10, 50))
    return lay


def _cross_track(
    lay: Layout,
    rng: np.random.Generator,
    world: Callable[[float, float], tuple[float, float]],
    us: np.ndarray,
    vs: np.ndarray,
    i: int,
    j: int,
) -> None:
    """Add a dirt track across block (i, j) between points on two of its streets."""
    sides = [
        (us[i], vs[j], us[i + 1], vs[j]),
        (us[i + 1], vs[j], us[i + 1], vs[j + 1]),
        (us[i], vs[j + 1], us[i + 1], vs[j + 1]),
        (us[i], vs[j], us[i], vs[j + 1]),
    ]
    a, b = rng.choice(4, 2, replace=False)
    ta, tb = rng.uniform(0.25, 0.75, 2)
    pa = world(
        sides[a][0] + ta * (sides[a][2] - sides[a][0]),
        sides[a][1] + ta * (sides[a][3] - sides[a][1]),
    )
    pb = world(
        sides[b][0] + tb * (sides[b][2] - sides[b][0]),
        sides[b][1] + tb * (sides[b][3] - sides[b][1]),
    )
    lay.roads.append(make_road(rng, wavy(pa, pb, [rng.normal(0, 6), rng.normal(0, 3)]), "track"))
