"""Rural layout: a parcel grid of fields, a highway, country roads, farm tracks, woods, farms."""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import LineString
from shapely.ops import substring

from roadseg.synth.coverage import add_track, ensure_classes
from roadseg.synth.furnish import Occupancy, add_trees, scatter_trees, street_trees, traffic
from roadseg.synth.geometry import rect, tangent, wavy
from roadseg.synth.model import Building, Layout, Patch
from roadseg.synth.network import RoadIndex, make_road, union_of
from roadseg.synth.style import Style, _jitter
from roadseg.synth.urban import _axis

MARGIN_M = 40.0


def rural(rng: np.random.Generator, style: Style, W: float, H: float) -> Layout:
    """Build a rural scene of ``W`` × ``H`` metres."""
    lay = Layout(W, H, "rural")
    theta = 0.0 if rng.random() < 0.4 else rng.uniform(-0.4, 0.4)
    eu = np.array([math.cos(theta), math.sin(theta)])
    ev = np.array([-math.sin(theta), math.cos(theta)])
    centre = np.array([W / 2, H / 2])
    reach = math.hypot(W, H) / 2 + MARGIN_M
    us = _axis(rng, reach, (90, 260))
    vs = _axis(rng, reach, (70, 220))

    def world(u: float, v: float) -> np.ndarray:
        return centre + u * eu + v * ev

    def grid_line(is_u: bool, p: float) -> LineString:
        return LineString(
            [world(p, -reach), world(p, reach)] if is_u else [world(-reach, p), world(reach, p)]
        )

    area = W * H / 512.0**2  # scene area in units of the default scene

    def inner(pos: np.ndarray) -> list[int]:
        near = [j for j, p in enumerate(pos) if abs(p) < 0.4 * min(W, H)]
        return near or [int(np.argmin(np.abs(pos)))]

    used: set[tuple[bool, int]] = set()
    # The highway: along a grid line or across the grid.
    if rng.random() < 0.55:
        is_u = bool(rng.random() < 0.5)
        j = int(rng.choice(inner(us if is_u else vs)))
        used.add((is_u, j))
        lay.roads.append(make_road(rng, grid_line(is_u, (us if is_u else vs)[j]), "major"))
    else:
        a = rng.uniform(0, math.pi)
        c = centre + rng.uniform(-0.3, 0.3, 2) * (W, H)
        d = np.array([math.cos(a), math.sin(a)]) * reach * 1.3
        lay.roads.append(make_road(rng, wavy(c - d, c + d, [rng.normal(0, 25)]), "major"))
    # Country roads along other grid lines, some gently winding, some gravel.
    for _ in range(int(rng.integers(1, 3)) + rng.poisson(0.3 * max(area - 1, 0))):
        is_u = bool(rng.random() < 0.5)
        pos = us if is_u else vs
        j = int(rng.integers(len(pos)))
        if (is_u, j) in used:
            continue
        used.add((is_u, j))
        ln = grid_line(is_u, pos[j])
        ln = wavy(ln.coords[0], ln.coords[-1], [rng.normal(0, 6) if rng.random() < 0.4 else 0.0])
        lay.roads.append(make_road(rng, ln, "minor", paved=bool(rng.random() < 0.75)))
    # Farm tracks along parcel edges, leaving a road or another track at a junction.
    roads_union = union_of(lay)
    for _ in range(int(rng.integers(4, 9)) + rng.poisson(3 * max(area - 1, 0))):
        is_u = bool(rng.random() < 0.5)
        pos = us if is_u else vs
        j = int(rng.integers(len(pos)))
        if (is_u, j) in used:
            continue
        ln = grid_line(is_u, pos[j])
        hits = shapely.get_coordinates(ln.intersection(roads_union))
        if len(hits) == 0:
            continue
        used.add((is_u, j))
        s0 = float(ln.project(shapely.Point(hits[int(rng.integers(len(hits)))])))
        span = rng.uniform(1, 4) * np.mean(np.diff(vs if is_u else us))
        s1 = s0 + span if rng.random() < 0.5 else s0 - span
        piece = substring(ln, s0, float(np.clip(s1, 0, ln.length)))
        if piece.length > 20:
            lay.roads.append(make_road(rng, piece, "track"))
            roads_union = union_of(lay)  # later tracks may branch off this one
    for _ in range(int(rng.integers(1, 3)) + rng.poisson(0.7 * max(area - 1, 0))):
        add_track(lay, rng, (150, 500))
    ensure_classes(lay, rng)

    index = RoadIndex(lay.roads)
    _parcels(lay, rng, style, us, vs, world, theta, index)
    # Hedgerows along some parcel edges and roads: they hide parts of the tracks.
    for is_u, pos in ((True, us), (False, vs)):
        for p in pos:
            if rng.random() < 0.3:
                ln = grid_line(is_u, p)
                s = np.arange(rng.uniform(0, 5), ln.length, rng.uniform(3.5, 7))
                keep = rng.random(len(s)) < 0.8
                xy = shapely.get_coordinates(shapely.line_interpolate_point(ln, s[keep]))
                jit = (ev if is_u else eu) * rng.choice([-1, 1]) * rng.uniform(1, 4)
                r = rng.uniform(1.8, 4.0, len(xy))
                add_trees(
                    lay,
                    index,
                    xy[:, 0] + jit[0] + rng.normal(0, 0.7, len(xy)),
                    xy[:, 1] + jit[1],
                    r,
                    r * rng.uniform(1.6, 2.6, len(xy)),
                    rng,
                    min_clear=0.3,
                )
    for road in lay.roads:
        if road.road_class != "major" and rng.random() < 0.25:
            street_trees(
                lay, index, road, rng, rng.uniform(6, 12), 1.0, (2.0, 4.5), both=rng.random() < 0.5
            )
    _farmsteads(lay, rng, style, index)
    scatter_trees(
        lay,
        index,
        # Shrubs grow in pastures, fallow land and along margins, not in crops.
        shapely.box(-20, -20, W + 20, H + 20).difference(
            shapely.union_all([p.polygon for p in lay.patches if p.kind == "field"])
        ),
        style.shrubs_per_ha * 1.2,
        (0.5, 1.5),
        rng,
        (0.8, 1.4),
    )
    traffic(lay, index, rng, rng.uniform(2, 8))
    return lay


def _parcels(
    lay: Layout,
    rng: np.random.Generator,
    style: Style,
    us: np.ndarray,
    vs: np.ndarray,
    world: object,
    theta: float,
    index: RoadIndex,
) -> None:
    """Fill the grid cells with fields, pastures, fallow land, woods and centre pivots."""
    box = shapely.box(-MARGIN_M, -MARGIN_M, lay.width_m + MARGIN_M, lay.height_m + MARGIN_M)
    p_woods = {"green": 0.14, "dry": 0.08, "desert": 0.03}[style.biome]
    for i in range(len(us) - 1):
        for j in range(len(vs) - 1):
            du, dv = us[i + 1] - us[i], vs[j + 1] - vs[j]
            c = world((us[i] + us[i + 1]) / 2, (vs[j] + vs[j + 1]) / 2)  # type: ignore[operator]
            m = rng.uniform(2, 6)
            cell = rect(c[0], c[1], du - 2 * m, dv - 2 * m, theta)
            if not cell.intersects(box):
                continue
            use = rng.random()
            if use < p_woods:
                lay.patches.append(Patch(cell, "woods", _jitter(rng, style.tree, 0.08)))
                scatter_trees(
                    lay, index, cell, rng.uniform(180, 320), (2.5, 5.0), rng, min_clear=1.0
                )
            elif use < p_woods + 0.18:
                lay.patches.append(
                    Patch(
                        cell,
                        "pasture",
                        _jitter(
                            rng, style.grass if style.biome == "green" else style.ground[1], 0.08
                        ),
                    )
                )
                scatter_trees(lay, index, cell, rng.uniform(0, 6), (2.5, 5.5), rng)
            elif use < p_woods + 0.27:
                lay.patches.append(
                    Patch(cell, "vacant", _jitter(rng, style.ground[2], 0.06), theta, 0.0)
                )
            elif style.biome != "green" and use < p_woods + 0.37 and min(du, dv) > 120:
                r = min(du, dv) / 2 - m
                pivot = shapely.Point(c[0], c[1]).buffer(r, quad_segs=32)
                lay.patches.append(
                    Patch(
                        pivot,
                        "field",
                        _jitter(rng, style.crops[0], 0.1),
                        0.0,
                        float(rng.uniform(2, 5)),
                        True,
                    )
                )
            else:
                # One crop, or a few strips of different crops side by side.
                n = 1 if rng.random() < 0.65 else int(rng.integers(2, 5))
                along_u = rng.random() < 0.5
                span = (du if along_u else dv) - 2 * m
                for k in range(n):
                    off = -span / 2 + span * (k + 0.5) / n
                    sc = c + (
                        off * np.array([math.cos(theta), math.sin(theta)])
                        if along_u
                        else off * np.array([-math.sin(theta), math.cos(theta)])
                    )
                    strip = rect(
                        sc[0],
                        sc[1],
                        span / n - (1.0 if n > 1 else 0.0) if along_u else du - 2 * m,
                        dv - 2 * m if along_u else span / n - (1.0 if n > 1 else 0.0),
                        theta,
                    )
                    colour = style.crops[int(rng.integers(len(style.crops)))]
                    angle = theta + (0.0 if rng.random() < 0.5 else math.pi / 2)
                    period = float(rng.uniform(0.9, 4.5))
                    lay.patches.append(
                        Patch(strip, "field", _jitter(rng, colour, 0.06), angle, period)
                    )


def _farmsteads(lay: Layout, rng: np.random.Generator, style: Style, index: RoadIndex) -> None:
    """Return a few farm yards beside minor roads: a house, barns, a gravel yard and trees."""
    minors = [
        r for r in lay.roads if r.road_class == "minor" and r.line.intersection(lay.box).length > 60
    ]
    taken = Occupancy()
    woods = [p.polygon for p in lay.patches if p.kind == "woods"]
    for _ in range(
        int(rng.integers(0, 3))
        + rng.poisson(0.5 * max(lay.width_m * lay.height_m / 512.0**2 - 1, 0))
        if minors
        else 0
    ):
        road = minors[int(rng.integers(len(minors)))]
        inside = road.line.intersection(lay.box)
        p = shapely.line_interpolate_point(inside, rng.uniform(0.1, 0.9), normalized=True)
        s = road.line.project(p)
        th = tangent(road.line, s)
        side = rng.choice([-1, 1])
        n = np.array([-math.sin(th), math.cos(th)]) * side
        t = np.array([math.cos(th), math.sin(th)])
        size = rng.uniform(45, 80)
        yc = np.array([p.x, p.y]) + n * (road.width_m / 2 + 8 + size / 2)
        yard = rect(yc[0], yc[1], size, size * rng.uniform(0.7, 1.0), th)
        if index.clearance(np.array([yard]), reach=5.0)[0] < 2.0 or not taken.free(yard):
            continue
        if any(w.intersects(yard) for w in woods):
            continue
        taken.add(yard)
        lay.patches.append(Patch(yard, "gravel", _jitter(rng, style.gravel, 0.06)))
        lay.patches.append(
            Patch(
                rect(
                    p.x + n[0] * (road.width_m / 4 + 4),
                    p.y + n[1] * (road.width_m / 4 + 4),
                    4.0,
                    road.width_m / 2 + 8.5,
                    th + math.pi / 2,
                ),
                "gravel",
                _jitter(rng, style.gravel, 0.06),
            )
        )
        spots = [(-0.25, -0.2), (0.2, 0.15), (-0.2, 0.25), (0.25, -0.25)]
        taken_here = Occupancy()
        for k, (a, b) in enumerate(spots[: int(rng.integers(2, 5))]):
            c = yc + t * a * size + n * b * size
            if k == 0:
                bld = Building(
                    c[0],
                    c[1],
                    rng.uniform(11, 16),
                    rng.uniform(8, 11),
                    th,
                    rng.uniform(5, 8),
                    "hip",
                    style.roofs[int(rng.integers(len(style.roofs)))],
                )
            else:
                metal = ((168, 170, 172), (120, 124, 128), (150, 60, 48), (190, 190, 186))
                bld = Building(
                    c[0],
                    c[1],
                    rng.uniform(18, 34),
                    rng.uniform(10, 16),
                    th + rng.choice([0, math.pi / 2]),
                    rng.uniform(6, 10),
                    "gable",
                    _jitter(rng, metal[int(rng.integers(4))], 0.05),
                )
            if taken_here.free(bld.footprint):
                taken_here.add(bld.footprint.buffer(2.0))
                lay.buildings.append(bld)
        nt = rng.integers(3, 10)
        ang = rng.uniform(0, 2 * math.pi, nt)
        rad = size * rng.uniform(0.5, 0.75, nt)
        r = rng.uniform(2.5, 5, nt)
        add_trees(lay, index, yc[0] + np.cos(ang) * rad, yc[1] + np.sin(ang) * rad, r, r * 2.2, rng)
