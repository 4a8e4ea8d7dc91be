"""Filling urban blocks: office and shop buildings, parking lots, parks, vacant lots."""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from roadseg.synth.furnish import Occupancy, add_trees, scatter_trees
from roadseg.synth.geometry import rect
from roadseg.synth.model import Building, Layout, Patch
from roadseg.synth.network import RoadIndex
from roadseg.synth.style import Style, _jitter


def parking_lot(
    layout: Layout,
    rng: np.random.Generator,
    style: Style,
    area: BaseGeometry,
    cx: float,
    cy: float,
    length: float,
    width: float,
    angle: float,
    occupancy: float,
) -> None:
    """Return an asphalt lot with rows of painted stalls and parked cars, clipped to ``area``."""
    lot = rect(cx, cy, length, width, angle).intersection(area)
    if lot.is_empty or lot.area < 100:
        return
    layout.patches.append(Patch(lot, "parking", _jitter(rng, style.asphalt_minor, 0.05)))
    c, s = math.cos(angle), math.sin(angle)
    stall_w, stall_d, aisle = rng.uniform(2.5, 2.9), 5.2, rng.uniform(6.0, 7.5)
    pitch = 2 * stall_d + aisle
    colour = style.marking if rng.random() < 0.7 else style.centre_marking
    lines, cars = [], []
    for v0 in np.arange(-width / 2 + 1.0, width / 2 - stall_d, pitch):
        for row_v, facing in ((v0, 1), (v0 + stall_d + aisle, -1)):
            if row_v + stall_d > width / 2 - 0.5:
                continue
            us = np.arange(-length / 2 + 2.0, length / 2 - 2.0, stall_w)
            for u in us:
                x0, y0 = cx + u * c - row_v * s, cy + u * s + row_v * c
                x1, y1 = x0 - stall_d * s, y0 + stall_d * c
                lines.append(shapely.LineString([(x0, y0), (x1, y1)]))
            mid_u = us[:-1] + stall_w / 2
            occ = rng.random(len(mid_u)) < occupancy
            vm = row_v + stall_d / 2
            for u in mid_u[occ]:
                x, y = cx + u * c - vm * s, cy + u * s + vm * c
                cars.append(
                    (
                        x,
                        y,
                        angle + facing * math.pi / 2 + rng.normal(0, 0.03),
                        rng.uniform(4.2, 5.0),
                        rng.uniform(1.75, 1.95),
                        int(rng.integers(0, 9)),
                    )
                )
    if lines:
        paint = shapely.intersection(shapely.MultiLineString(lines), lot)
        layout.paint.append((paint, 0.12, colour))
    for car in cars:
        if lot.contains(shapely.Point(car[0], car[1])):
            layout.cars.append(car)


def office_block(
    layout: Layout,
    rng: np.random.Generator,
    style: Style,
    area: BaseGeometry,
    frame: tuple,
    taken: Occupancy,
    index: RoadIndex,
) -> None:
    """Split a block into lots along its long side and put a flat-roofed building on each.

    ``frame`` is (cx, cy, length, width, angle) of the usable block rectangle.
    """
    cx, cy, length, width, angle = frame
    c, s = math.cos(angle), math.sin(angle)
    layout.patches.append(Patch(area, "concrete", _jitter(rng, style.concrete, 0.07)))
    area = area.buffer(-1.5)
    rows = 2 if width > 55 and rng.random() < 0.7 else 1
    for r in range(rows):
        rw = width / rows
        v = -width / 2 + rw * (r + 0.5)
        n = max(1, int(round(length / rng.uniform(22, 48))))
        lw = length / n
        for k in range(n):
            u = -length / 2 + lw * (k + 0.5)
            bl = lw - rng.uniform(2, 8)
            bw = rw - rng.uniform(2, 12)
            if bl < 8 or bw < 8:
                continue
            bx = cx + u * c - v * s + rng.normal(0, 1)
            by = cy + u * s + v * c + rng.normal(0, 1)
            a = angle if bl >= bw else angle + math.pi / 2
            b = Building(
                bx,
                by,
                max(bl, bw),
                min(bl, bw),
                a,
                float(np.clip(rng.lognormal(2.5, 0.6), 4, 60)),
                "flat",
                style.flat_roofs[int(rng.integers(len(style.flat_roofs)))],
            )
            fp = b.footprint
            if not fp.within(area) or not taken.free(fp):
                if rng.random() < 0.5:
                    parking_lot(
                        layout, rng, style, area, bx, by, lw, rw, angle, rng.uniform(0.3, 0.8)
                    )
                continue
            taken.add(fp)
            layout.buildings.append(b)
            _roof_units(layout, rng, b)


def _roof_units(layout: Layout, rng: np.random.Generator, b: Building) -> None:
    """Air-conditioning boxes on a flat roof (drawn as small flat buildings on top)."""
    n = rng.poisson(b.length * b.width / 250.0)
    c, s = math.cos(b.angle), math.sin(b.angle)
    for _ in range(min(n, 12)):
        u = rng.uniform(-0.4, 0.4) * b.length
        v = rng.uniform(-0.4, 0.4) * b.width
        layout.buildings.append(
            Building(
                b.cx + u * c - v * s,
                b.cy + u * s + v * c,
                rng.uniform(1.5, 4),
                rng.uniform(1.2, 3),
                b.angle,
                b.height + rng.uniform(1, 2),
                "flat",
                (200.0, 200.0, 196.0),
                b.height,
            )
        )


def park(
    layout: Layout, rng: np.random.Generator, style: Style, area: BaseGeometry, index: RoadIndex
) -> None:
    """Return a lawn with scattered trees."""
    layout.patches.append(
        Patch(
            area,
            "lawn",
            _jitter(rng, style.grass, 0.06),
            rng.uniform(0, math.pi),
            float(rng.uniform(1.5, 3)) if rng.random() < 0.5 else 0.0,
        )
    )
    scatter_trees(layout, index, area, rng.uniform(30, 120), (2.5, 5.5), rng)


def vacant(
    layout: Layout, rng: np.random.Generator, style: Style, area: BaseGeometry, index: RoadIndex
) -> None:
    """Bare or weedy ground with a few shrubs."""
    layout.patches.append(
        Patch(area, "vacant", _jitter(rng, style.ground[int(rng.integers(3))], 0.06))
    )
    scatter_trees(layout, index, area, style.shrubs_per_ha * 1.5, (0.5, 1.5), rng, (0.8, 1.4))
    if rng.random() < 0.3:
        n = rng.poisson(3)
        x0, y0, x1, y1 = area.bounds
        add_trees(
            layout,
            index,
            rng.uniform(x0, x1, n),
            rng.uniform(y0, y1, n),
            rng.uniform(2, 4, n),
            rng.uniform(4, 8, n),
            rng,
        )
