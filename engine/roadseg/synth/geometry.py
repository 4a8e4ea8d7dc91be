"""Pure geometry helpers for scene layouts (shapely, metres)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring


def rect(cx: float, cy: float, length: float, width: float, angle: float) -> Polygon:
    """Return a rectangle centred on (cx, cy) whose long side points along ``angle`` (radians).

    >>> round(rect(0, 0, 4, 2, 0.3).area, 6)
    8.0
    """
    c, s = math.cos(angle), math.sin(angle)
    hl, hw = length / 2.0, width / 2.0
    pts = [(-hl, -hw), (hl, -hw), (hl, hw), (-hl, hw)]
    return Polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts])


def rects(
    cx: np.ndarray, cy: np.ndarray, length: np.ndarray, width: np.ndarray, angle: np.ndarray
) -> np.ndarray:
    """Vectorised :func:`rect`: an array of polygons.

    >>> rects(np.zeros(2), np.zeros(2), np.full(2, 4.0), np.full(2, 2.0), np.zeros(2)).shape
    (2,)
    """
    c, s = np.cos(angle), np.sin(angle)
    u = np.array([-0.5, 0.5, 0.5, -0.5])
    v = np.array([-0.5, -0.5, 0.5, 0.5])
    lx = u[None, :] * length[:, None]
    ly = v[None, :] * width[:, None]
    x = cx[:, None] + lx * c[:, None] - ly * s[:, None]
    y = cy[:, None] + lx * s[:, None] + ly * c[:, None]
    return shapely.polygons(np.stack([x, y], axis=-1))


def wavy(
    p0: Sequence[float], p1: Sequence[float], amps: Sequence[float], step: float = 4.0
) -> LineString:
    """Return a line from ``p0`` to ``p1`` bent sideways by ``Σ a_k·sin(kπt)`` (ends exact).

    >>> ln = wavy((0, 0), (100, 0), [10.0])
    >>> ln.coords[0], ln.coords[-1], round(max(y for _, y in ln.coords))
    ((0.0, 0.0), (100.0, 0.0), 10)
    """
    x0, y0 = float(p0[0]), float(p0[1])
    x1, y1 = float(p1[0]), float(p1[1])
    length = math.hypot(x1 - x0, y1 - y0)
    n = max(2, int(length / step) + 1)
    t = np.linspace(0.0, 1.0, n)
    off = np.zeros(n)
    for k, a in enumerate(amps, start=1):
        off += a * np.sin(k * math.pi * t)
    nx, ny = -(y1 - y0) / max(length, 1e-9), (x1 - x0) / max(length, 1e-9)
    xs = x0 + (x1 - x0) * t + nx * off
    ys = y0 + (y1 - y0) * t + ny * off
    xs[0], ys[0], xs[-1], ys[-1] = x0, y0, x1, y1
    return LineString(np.column_stack([xs, ys]))


def heading_path(
    p0: Sequence[float],
    heading: float,
    length: float,
    rng: np.random.Generator,
    turn_sd: float,
    step: float = 4.0,
) -> LineString:
    """Return a smooth path from ``p0`` starting along ``heading`` (radians), turning gently.

    The curvature is a smooth random function (knots every ~60 m), zero at the
    start so a branch leaves its parent road squarely.
    """
    n = max(2, int(length / step) + 1)
    knots = max(2, int(length / 60.0) + 2)
    k = rng.normal(0.0, turn_sd, knots)
    k[0] = 0.0
    s = np.linspace(0.0, 1.0, n)
    curv = np.interp(s, np.linspace(0.0, 1.0, knots), k) * np.clip(s * length / 15.0, 0.0, 1.0)
    theta = heading + np.concatenate([[0.0], np.cumsum(curv[:-1] * step)])
    xs = p0[0] + np.concatenate([[0.0], np.cumsum(np.cos(theta[:-1]) * step)])
    ys = p0[1] + np.concatenate([[0.0], np.cumsum(np.sin(theta[:-1]) * step)])
    return LineString(np.column_stack([xs, ys]))


def tangent(line: LineString, s: float, ds: float = 2.0) -> float:
    """Direction (radians) of ``line`` at distance ``s`` along it."""
    a = line.interpolate(max(0.0, s - ds))
    b = line.interpolate(min(line.length, s + ds))
    return math.atan2(b.y - a.y, b.x - a.x)


def cut_at_first_hit(
    line: LineString, others: BaseGeometry | None, skip: float = 3.0
) -> LineString | None:
    """Cut ``line`` at its first crossing with ``others`` beyond ``skip`` metres from its start.

    Returns the line up to that crossing (which lies on ``others``), the whole
    line when there is none, or None when the remaining piece is too short.

    >>> from shapely.geometry import LineString
    >>> cut_at_first_hit(LineString([(0, 0), (20, 0)]), LineString([(10, -1), (10, 1)])).length
    10.0
    """
    if others is None or others.is_empty:
        return line
    hit = shapely.intersection(line, others)
    if hit.is_empty:
        return line
    pts = shapely.get_coordinates(hit)
    if len(pts) == 0:
        return line
    d = shapely.line_locate_point(line, shapely.points(pts))
    d = d[d > skip]
    if len(d) == 0:
        return line
    s = float(d.min())
    if s < 2 * skip:
        return None
    return substring(line, 0.0, s)


def extend(line: LineString, d: float) -> LineString:
    """Extend both ends of ``line`` straight by ``d`` metres."""
    c = np.asarray(line.coords)
    if len(c) < 2:
        return line
    a = c[0] - c[1]
    b = c[-1] - c[-2]
    a = a / max(np.hypot(*a), 1e-9)
    b = b / max(np.hypot(*b), 1e-9)
    return LineString(np.vstack([c[0] + a * d, c, c[-1] + b * d]))


def dashes(line: BaseGeometry, dash: float, gap: float, step: float = 0.5) -> MultiLineString:
    """Dashes of ``dash`` metres every ``dash + gap`` metres along (multi)line ``line``."""
    pieces = []
    for part in getattr(line, "geoms", [line]):
        if part.is_empty or part.length < dash:
            continue
        seg = shapely.segmentize(part, step)
        c = shapely.get_coordinates(seg)
        s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(c, axis=0).T))])
        mid = (s[:-1] + s[1:]) / 2.0
        keep = (mid % (dash + gap)) < dash
        if keep.any():
            pieces.append(shapely.linestrings(np.stack([c[:-1][keep], c[1:][keep]], axis=1)))
    if not pieces:
        return MultiLineString()
    return MultiLineString(list(np.concatenate(pieces)))


def offset(line: LineString, d: float) -> BaseGeometry:
    """Return a line parallel to ``line`` at ``d`` metres (left positive), without mitred spikes."""
    return shapely.offset_curve(line, d, quad_segs=4, join_style="round")
