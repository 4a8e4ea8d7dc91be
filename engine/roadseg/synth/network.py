"""Road network building blocks: random roads, branches, and a spatial index of roads."""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from roadseg.synth.geometry import cut_at_first_hit, heading_path, tangent
from roadseg.synth.model import WIDTH_RANGE_M, Layout, Road, RoadClass


def road_width(rng: np.random.Generator, road_class: RoadClass) -> float:
    """Return a total width in metres drawn from the class's range, rounded to 10 cm.

    >>> 10.0 <= road_width(np.random.default_rng(0), "major") <= 16.0
    True
    """
    lo, hi = WIDTH_RANGE_M[road_class]
    return float(round(rng.uniform(lo, hi), 1))


def lanes_for(road_class: RoadClass, width_m: float) -> int:
    """Return the number of traffic lanes a road of this class and width carries.

    >>> lanes_for("major", 14.0), lanes_for("minor", 6.0), lanes_for("track", 3.0)
    (4, 2, 1)
    """
    if road_class == "track":
        return 1
    if road_class == "minor":
        return 2
    return max(2, int(width_m // 3.4) // 2 * 2)


def make_road(
    rng: np.random.Generator,
    line: LineString,
    road_class: RoadClass,
    paved: bool | None = None,
    bulb_m: float = 0.0,
    median_p: float = 0.3,
) -> Road:
    """Return a road of ``road_class`` along ``line`` with a random width in the class's range.

    Wide major roads get a raised median with probability ``median_p``.
    """
    w = road_width(rng, road_class)
    if paved is None:
        paved = road_class != "track"
    lanes = lanes_for(road_class, w)
    median = 0.0
    if road_class == "major" and lanes >= 4 and rng.random() < median_p:
        median = float(round(min(rng.uniform(1.5, 4.0), w - lanes * 2.9), 1))
        median = median if median >= 1.2 else 0.0
    return Road(line, road_class, w, bool(paved), lanes, bulb_m, median)


def branch(
    rng: np.random.Generator,
    parent: LineString,
    s: float,
    side: int,
    length: float,
    turn_sd: float,
    others: BaseGeometry | None,
) -> tuple[LineString | None, bool]:
    """Return a road leaving ``parent`` at distance ``s`` towards ``side`` (+1 left, −1 right).

    It starts exactly on the parent's centreline (a T-junction) and stops at the
    first road it meets in ``others`` (another junction), or after ``length``.

    Returns:
        The line (None when too short) and whether it ends free (a dead end).

    """
    p = parent.interpolate(s)
    heading = tangent(parent, s) + side * math.pi / 2 + rng.normal(0.0, 0.08)
    full = heading_path((p.x, p.y), heading, length, rng, turn_sd)
    line = cut_at_first_hit(full, others, skip=4.0)
    return line, line is full


class RoadIndex:
    """Distances from things to the nearest road edge (a spatial index of centrelines and bulbs)."""

    def __init__(self, roads: list[Road]) -> None:
        self.roads = roads
        # Index short pieces (single segments, at most 25 m), not whole roads: tight boxes.
        geoms, half, owner = [], [], []
        for i, r in enumerate(roads):
            c = shapely.get_coordinates(shapely.segmentize(r.line, 25.0))
            geoms.append(shapely.linestrings(np.stack([c[:-1], c[1:]], axis=1)))
            half.append(np.full(len(c) - 1, r.width_m / 2.0))
            owner.append(np.full(len(c) - 1, i))
            if r.bulb_m > 0:
                geoms.append(np.array([shapely.get_point(r.line, -1)]))
                half.append(np.array([r.bulb_m]))
                owner.append(np.array([i]))
        self.geoms = np.concatenate(geoms) if geoms else np.empty(0, dtype=object)
        self.half = np.concatenate(half) if half else np.empty(0)
        self.owner = np.concatenate(owner).astype(np.intp) if owner else np.empty(0, np.intp)
        self.tree = shapely.STRtree(self.geoms) if len(self.geoms) else None
        self.max_half = float(self.half.max()) if len(self.half) else 0.0

    def clearance(
        self, geoms: np.ndarray, reach: float = 30.0, exclude: np.ndarray | None = None
    ) -> np.ndarray:
        """Return the distance (m) from each geometry to the nearest road edge (< 0: on a road).

        Values are capped at ``reach``. ``exclude`` optionally gives, per
        geometry, one road index to ignore (e.g. the road a car drives on).
        """
        out = np.full(len(geoms), reach, dtype=np.float64)
        if self.tree is None or len(geoms) == 0:
            return out
        gi, ri = self.tree.query(geoms, predicate="dwithin", distance=reach + self.max_half)
        if exclude is not None and len(gi):
            keep = exclude[gi] != self.owner[ri]
            gi, ri = gi[keep], ri[keep]
        if len(gi):
            d = shapely.distance(geoms[gi], self.geoms[ri]) - self.half[ri]
            np.minimum.at(out, gi, d)
        return out


def union_of(
    layout: Layout, classes: tuple[RoadClass, ...] = ("major", "minor", "track")
) -> BaseGeometry | None:
    """Return the centrelines of the layout's roads of ``classes`` as one (unnoded) multi-line."""
    lines = [r.line for r in layout.roads if r.road_class in classes]
    return shapely.MultiLineString(lines) if lines else None


def add_branch_road(
    layout: Layout,
    rng: np.random.Generator,
    parent: Road,
    road_class: RoadClass,
    s: float,
    side: int,
    length: float,
    turn_sd: float,
    min_length: float = 25.0,
    paved: bool | None = None,
    bulb_m: float = 0.0,
) -> Road | None:
    """Branch a new road off ``parent`` and add it to ``layout`` (None if it came out too short)."""
    others = union_of(layout)
    line, ended_free = branch(rng, parent.line, s, side, length, turn_sd, others)
    if line is None or line.length < min_length:
        return None
    road = make_road(rng, line, road_class, paved, bulb_m if ended_free else 0.0)
    layout.roads.append(road)
    return road
