"""Make sure every road class shows up in a scene, and add free-running tracks.

Called by each layout after its roads are laid and before anything is built
beside them, so a road added here never runs through a house.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from roadseg.synth.geometry import cut_at_first_hit, heading_path, tangent, wavy
from roadseg.synth.model import ROAD_CLASSES, Layout, Road, RoadClass
from roadseg.synth.network import RoadIndex, make_road, union_of

#: A class counts as present when this many metres of it lie inside the scene.
MIN_VISIBLE_M = 20.0


def visible_length(layout: Layout, road_class: RoadClass) -> float:
    """Metres of centreline of ``road_class`` inside the scene."""
    box = layout.box
    return float(
        sum(r.line.intersection(box).length for r in layout.roads if r.road_class == road_class)
    )


def add_track(
    layout: Layout,
    rng: np.random.Generator,
    length: tuple[float, float] = (100, 350),
    tries: int = 12,
    paved: bool = False,
    road_class: RoadClass = "track",
) -> Road | None:
    """Add the best of several random tracks leaving a visible road into open land.

    Candidates start exactly on a road (a T-junction), wander, stop at the first
    road they meet, and are scored by how far they keep from other roads and how
    much of them is inside the scene.
    """
    box = layout.box
    parents = [
        r for r in layout.roads if r.line.intersection(box).length > 5.0 and r.road_class != "track"
    ]
    if not parents:
        parents = [r for r in layout.roads if r.line.intersection(box).length > 5.0]
    if not parents:
        return None
    others = union_of(layout)
    index = RoadIndex(layout.roads)
    best: tuple[float, shapely.LineString] | None = None
    for _ in range(tries):
        parent = parents[int(rng.integers(len(parents)))]
        inside = parent.line.intersection(box)
        p = shapely.line_interpolate_point(inside, rng.uniform(0.1, 0.9), normalized=True)
        s = float(parent.line.project(p))
        start = parent.line.interpolate(s)
        heading = tangent(parent.line, s) + rng.choice([-1, 1]) * math.pi / 2 + rng.normal(0, 0.25)
        full = heading_path((start.x, start.y), heading, rng.uniform(*length), rng, turn_sd=0.012)
        line = cut_at_first_hit(full, others, skip=4.0)
        if line is None or line.length < 15.0:
            continue
        probe = shapely.line_interpolate_point(
            line, np.linspace(min(12.0, line.length), line.length, 16)
        )
        clear = index.clearance(probe, reach=40.0)
        vis = line.intersection(box).length
        score = float(np.clip(clear.min(), -5, 40)) + vis / 25.0
        if best is None or score > best[0]:
            best = (score, line)
    if best is None:
        return None
    road = make_road(rng, best[1], road_class, paved)
    layout.roads.append(road)
    return road


def ensure_classes(layout: Layout, rng: np.random.Generator) -> None:
    """Add a road of any class that is missing from the visible scene.

    A missing major or minor road crosses the scene through an inner point; a
    missing track leaves an existing road into open land.
    """
    W, H = layout.width_m, layout.height_m
    for cls in ("major", "minor", "track"):
        if visible_length(layout, cls) >= MIN_VISIBLE_M:
            continue
        if cls == "track" and layout.roads:
            if add_track(layout, rng) is not None and visible_length(layout, cls) >= MIN_VISIBLE_M:
                continue
        cx, cy = rng.uniform(0.25, 0.75) * W, rng.uniform(0.25, 0.75) * H
        ang = rng.uniform(0, math.pi)
        half = math.hypot(W, H) / 2 + 40.0
        dx, dy = math.cos(ang) * half, math.sin(ang) * half
        line = wavy((cx - dx, cy - dy), (cx + dx, cy + dy), [rng.normal(0, 0.04 * half)])
        layout.roads.append(make_road(rng, line, cls))


def class_order(road: Road) -> int:
    """Drawing order of a road's class (tracks first, majors last).

    >>> from shapely.geometry import LineString
    >>> class_order(Road(LineString([(0, 0), (1, 0)]), "major", 12.0, True))
    2
    """
    return ROAD_CLASSES.index(road.road_class)
