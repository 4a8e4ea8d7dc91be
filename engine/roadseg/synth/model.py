"""What a synthetic scene contains, in scene metres (x east, y south, origin top-left).

The layout modules fill a :class:`Layout`; the renderer draws it and the
scene writer turns its roads into the label layer. Roads keep their exact
centrelines: the rendered surfaces are buffers of these very lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from roadseg.synth.style import RGB

RoadClass = Literal["major", "minor", "track"]
PatchKind = Literal[
    "field", "pasture", "lawn", "parking", "vacant", "concrete", "pool", "woods", "gravel"
]
RoofKind = Literal["flat", "gable", "hip"]

#: Road classes in drawing order (later ones are drawn on top at junctions).
ROAD_CLASSES: tuple[RoadClass, ...] = ("track", "minor", "major")
#: Total road width range in metres per class.
WIDTH_RANGE_M: dict[str, tuple[float, float]] = {
    "major": (10.0, 16.0),
    "minor": (5.0, 8.0),
    "track": (3.0, 4.0),
}


@dataclass(frozen=True, slots=True)
class Road:
    """One road: its centreline and how it looks.

    Attributes:
        line: Centreline in scene metres (may run past the scene; clipped for labels).
        road_class: ``major``, ``minor`` or ``track``.
        width_m: Total width of the surface in metres.
        paved: Asphalt or concrete (True) or dirt/gravel (False).
        lanes: Number of traffic lanes (markings are drawn between them).
        bulb_m: Radius of a turning circle at the end (cul-de-sac), 0 for none.
        median_m: Width of a raised median strip along the middle (part of ``width_m``), 0 for none.

    """

    line: LineString
    road_class: RoadClass
    width_m: float
    paved: bool
    lanes: int = 2
    bulb_m: float = 0.0
    median_m: float = 0.0

    @property
    def lane_width(self) -> float:
        """Width of one traffic lane (m)."""
        return (self.width_m - self.median_m) / max(self.lanes, 1)

    def lane_centres(self) -> list[float]:
        """Offsets (m, left positive) of the middle of each lane.

        >>> Road(LineString([(0, 0), (1, 0)]), "major", 14.0, True, 4, median_m=2.0).lane_centres()
        [-5.5, -2.5, 2.5, 5.5]
        """
        out = []
        for k in range(self.lanes):
            o = (k + 0.5 - self.lanes / 2) * self.lane_width
            out.append(o + np.sign(o) * self.median_m / 2)
        return out

    def lane_lines(self) -> tuple[list[float], bool]:
        """Offsets of the lines between lanes of one direction, and whether a centre line is drawn.

        >>> Road(LineString([(0, 0), (1, 0)]), "major", 14.0, True, 4).lane_lines()
        ([-3.5, 3.5], True)
        """
        out = []
        for k in range(1, self.lanes):
            o = (k - self.lanes / 2) * self.lane_width
            if abs(o) > 1e-9:
                out.append(o + np.sign(o) * self.median_m / 2)
        return out, self.median_m == 0 and self.lanes % 2 == 0 and self.lanes > 1

    def surface(self, extra_m: float = 0.0) -> BaseGeometry:
        """Return the road surface (a buffer of the centreline) widened by ``extra_m`` each side."""
        geom = shapely.buffer(self.line, self.width_m / 2.0 + extra_m, quad_segs=8)
        if self.bulb_m > 0:
            end = shapely.get_point(self.line, -1)
            geom = shapely.union(geom, shapely.buffer(end, self.bulb_m + extra_m, quad_segs=8))
        return geom


@dataclass(frozen=True, slots=True)
class Patch:
    """An area of one land cover: field, lawn, parking lot, pool...

    Attributes:
        polygon: Outline in scene metres.
        kind: Land-cover kind.
        colour: Base RGB.
        row_angle: Direction of crop rows or mowing stripes (radians).
        row_period: Distance between rows in metres (0: no rows).
        rings: Rows are rings around the centroid (centre-pivot irrigation).

    """

    polygon: BaseGeometry
    kind: PatchKind
    colour: RGB
    row_angle: float = 0.0
    row_period: float = 0.0
    rings: bool = False


@dataclass(frozen=True, slots=True)
class Building:
    """A rectangular building seen from above.

    Attributes:
        cx: Centre x (m).
        cy: Centre y (m).
        length: Long side (m).
        width: Short side (m).
        angle: Direction of the long side (radians).
        height: Height (m), for its shadow.
        roof: ``flat``, ``gable`` or ``hip``.
        colour: Roof RGB.
        base: Height of its base (m): 0 on the ground, a roof's height for rooftop units.

    """

    cx: float
    cy: float
    length: float
    width: float
    angle: float
    height: float
    roof: RoofKind
    colour: RGB
    base: float = 0.0

    @property
    def footprint(self) -> Polygon:
        """The outline polygon."""
        from roadseg.synth.geometry import rect

        return rect(self.cx, self.cy, self.length, self.width, self.angle)


@dataclass
class Layout:
    """Everything placed in a scene (mutable while a layout is being built).

    Trees and cars are kept as columns (numpy arrays after :meth:`finish`).
    """

    width_m: float
    height_m: float
    kind: str
    #: Width of the concrete sidewalks beside paved roads (0: none, soft shoulders instead).
    sidewalk_m: float = 0.0
    roads: list[Road] = field(default_factory=list)
    patches: list[Patch] = field(default_factory=list)
    buildings: list[Building] = field(default_factory=list)
    #: Trees and shrubs: x, y, crown radius, height, shade (colour multiplier).
    trees: list[tuple[float, float, float, float, float]] = field(default_factory=list)
    #: Cars: x, y, heading (rad), length, width, colour index.
    cars: list[tuple[float, float, float, float, float, int]] = field(default_factory=list)
    #: Painted lines off the roads (parking stalls): geometry, width (m), RGB.
    paint: list[tuple[BaseGeometry, float, RGB]] = field(default_factory=list)

    @property
    def box(self) -> Polygon:
        """The scene extent."""
        return shapely.box(0.0, 0.0, self.width_m, self.height_m)

    def tree_array(self) -> np.ndarray:
        """Trees as a float64 array (N, 5)."""
        return np.asarray(self.trees, dtype=np.float64).reshape(-1, 5)

    def car_array(self) -> np.ndarray:
        """Cars as a float64 array (N, 6)."""
        return np.asarray(self.cars, dtype=np.float64).reshape(-1, 6)
