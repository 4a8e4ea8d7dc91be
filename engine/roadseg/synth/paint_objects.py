"""Painting raised things: cars, cast shadows, roofs and tree crowns, lit by the style's sun."""

from __future__ import annotations

import numpy as np
import shapely
from scipy.ndimage import gaussian_filter

from roadseg.synth.canvas import Canvas, blend, chunks, darken
from roadseg.synth.geometry import rects
from roadseg.synth.model import Layout
from roadseg.synth.noise import STRIP
from roadseg.synth.paint_ground import Textures
from roadseg.synth.style import Style

_PITCH = np.radians(28.0)


def _shadow_rgb(style: Style) -> np.ndarray:
    return np.clip(np.array([0.92, 0.97, 1.12]) * style.shadow, 0, 1)


def _cast(img: np.ndarray, canvas: Canvas, shapes: list, style: Style, soft_m: float) -> None:
    """Darken ``img`` under the union of shadow ``shapes``, edges softened by ``soft_m`` metres.

    Works band by band of rows, so memory stays bounded whatever the scene size.
    """
    m = canvas.mask(shapes)
    rgb = _shadow_rgb(style)
    sigma = soft_m / canvas.gsd
    h, w = canvas.shape
    m2 = m.reshape(h, w)
    rows = np.flatnonzero(m2.any(axis=1))
    if len(rows) == 0:
        return
    halo = int(np.ceil(4 * sigma))
    for r0 in range(int(rows[0]), int(rows[-1]) + 1, STRIP):
        r1 = min(r0 + STRIP, int(rows[-1]) + 1)
        if sigma < 0.3:
            loc = np.flatnonzero(m2[r0:r1])
            darken(img, loc + r0 * w, rgb, 1.0)
            continue
        a0, a1 = max(0, r0 - halo), min(h, r1 + halo)
        a = gaussian_filter(m2[a0:a1].astype(np.float32), sigma, mode="nearest")[r0 - a0 : r1 - a0]
        loc = np.flatnonzero(a > 0.02)
        darken(img, loc + r0 * w, rgb, a.reshape(-1)[loc])


def _columns(
    arr: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The first five columns of ``arr`` (n == 5), as separate arrays."""
    c = arr[:, :n].T
    return c[0], c[1], c[2], c[3], c[4]


def _boxes(
    cx: np.ndarray,
    cy: np.ndarray,
    length: np.ndarray,
    width: np.ndarray,
    angle: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
) -> np.ndarray:
    """Convex hulls of rectangles and their copies shifted by (dx, dy): prism shadows."""
    a = shapely.get_coordinates(rects(cx, cy, length, width, angle)).reshape(len(cx), 5, 2)[:, :4]
    b = a + np.stack([dx, dy], axis=-1)[:, None, :]
    return shapely.convex_hull(shapely.multipoints(np.concatenate([a, b], axis=1)))


def paint_cars(
    img: np.ndarray, layout: Layout, style: Style, canvas: Canvas, tex: Textures
) -> None:
    """Cars with windscreens and their short shadows."""
    cars = layout.car_array()
    if len(cars) == 0:
        return
    x, y, hd, ln, wd, ci = cars.T
    dx, dy = style.shadow_offset(1.4)
    boxes = _boxes(x, y, ln, wd, hd, np.full(len(x), dx), np.full(len(x), dy))
    _cast(img, canvas, list(boxes), style, 0.15)
    ids = canvas.ids(list(rects(x, y, ln * 0.97, wd * 0.95, hd)))
    palette = np.array(style.cars, dtype=np.float32)
    for idx, k in chunks(ids):
        px, py = canvas.xy(idx)
        c, s = np.cos(hd[k]), np.sin(hd[k])
        u = ((px - x[k]) * c + (py - y[k]) * s) / ln[k]  # −0.5 rear … 0.5 front
        v = (-(px - x[k]) * s + (py - y[k]) * c) / wd[k]
        glass = ((u > 0.12) & (u < 0.3)) | ((u < -0.28) & (u > -0.4))
        f = (
            np.where(glass, 0.35, 1.0)
            * np.where(np.abs(v) > 0.38, 0.85, 1.0)
            * (1 + 0.04 * tex.get("grain", idx))
        )
        blend(img, idx, palette[ci[k].astype(int)].T * f.astype(np.float32), 1.0)


def paint_shadows(img: np.ndarray, layout: Layout, style: Style, canvas: Canvas) -> None:
    """Shadows of buildings and trees on whatever lies below them."""
    shapes: list = []
    ground = [b for b in layout.buildings if b.base == 0]
    if ground:
        arr = np.array([(b.cx, b.cy, b.length, b.width, b.angle, b.height) for b in ground])
        off = np.array([style.shadow_offset(h) for h in arr[:, 5]])
        shapes += list(_boxes(*_columns(arr, 5), off[:, 0], off[:, 1]))
    trees = layout.tree_array()
    if len(trees):
        x, y, r, h, _ = trees.T
        sx, sy = style.shadow_offset(1.0)
        # A crown's shadow: the hull of its disc cast from the crown's middle and lower part.
        ang = np.linspace(0, 2 * np.pi, 13)[:-1]
        ring = np.stack([np.cos(ang), np.sin(ang)], -1)
        hc, hl = h - r * 0.7, np.maximum(h * 0.35, r * 0.3)
        up = (
            np.stack([x + sx * hc, y + sy * hc], -1)[:, None]
            + ring[None] * (r * 0.95)[:, None, None]
        )
        low = (
            np.stack([x + sx * hl, y + sy * hl], -1)[:, None]
            + ring[None] * (r * 0.6)[:, None, None]
        )
        shapes += list(shapely.convex_hull(shapely.multipoints(np.concatenate([up, low], axis=1))))
    _cast(img, canvas, shapes, style, 0.35)


def paint_roofs(
    img: np.ndarray, layout: Layout, style: Style, canvas: Canvas, tex: Textures
) -> None:
    """Roofs, flat or pitched (gable, hip), shaded by facet; rooftop units with their shadows."""
    sun = np.array(style.sun_vector)
    flat_lit = 0.4 + 0.6 * sun[2]
    for level in (0, 1):
        blds = [b for b in layout.buildings if (b.base > 0) == bool(level)]
        if not blds:
            continue
        arr = np.array([(b.cx, b.cy, b.length, b.width, b.angle, b.height - b.base) for b in blds])
        if level:
            off = np.array([style.shadow_offset(h) for h in arr[:, 5]])
            _cast(img, canvas, list(_boxes(*_columns(arr, 5), off[:, 0], off[:, 1])), style, 0.1)
        ids = canvas.ids([b.footprint for b in blds])
        kinds = np.array([{"flat": 0, "gable": 1, "hip": 2}[b.roof] for b in blds])
        colours = np.array([b.colour for b in blds], dtype=np.float32)
        for idx, k in chunks(ids):
            px, py = canvas.xy(idx)
            cx, cy, L, Wd, ang = (arr[k, j] for j in range(5))
            c, s = np.cos(ang), np.sin(ang)
            u = (px - cx) * c + (py - cy) * s
            v = -(px - cx) * s + (py - cy) * c
            kind = kinds[k]
            # Facet normals in the building frame: across the ridge (±v), on hip ends along it (±u).
            end = (kind == 2) & (np.abs(u) - (L / 2 - Wd / 2) > np.abs(v))
            nu = np.where(end, np.sign(u) * np.sin(_PITCH), 0.0)
            nv = np.where(end | (kind == 0), 0.0, np.sign(v) * np.sin(_PITCH))
            nz = np.where(kind == 0, 1.0, np.cos(_PITCH))
            nx, ny = nu * c - nv * s, nu * s + nv * c
            lit = (0.4 + 0.6 * np.clip(nx * sun[0] + ny * sun[1] + nz * sun[2], 0, 1)) / flat_lit
            rim = np.minimum(L / 2 - np.abs(u), Wd / 2 - np.abs(v)) < 0.45
            lit = (
                lit * np.where(rim & (kind == 0), 0.86, 1.0) * np.where(rim & (kind > 0), 0.92, 1.0)
            )
            lit = lit * (1 + 0.03 * tex.get("fine", idx) + 0.03 * tex.get("grain", idx))
            blend(img, idx, colours[k].T * lit.astype(np.float32), 1.0)
        del ids


def paint_trees(
    img: np.ndarray, layout: Layout, style: Style, canvas: Canvas, tex: Textures
) -> None:
    """Tree and shrub crowns: lumpy discs lit like spheres (taller ones on top)."""
    trees = layout.tree_array()
    if len(trees) == 0:
        return
    trees = trees[np.argsort(trees[:, 3], kind="stable")]
    x, y, r, h, shade = trees.T
    ids = canvas.ids(list(shapely.buffer(shapely.points(x, y), r * 1.15, quad_segs=4)))
    sun = style.sun_vector
    tree_rgb = np.asarray(style.tree, np.float32)[:, None]
    for idx, k in chunks(ids):
        px, py = canvas.xy(idx)
        dx, dy = (px - x[k]) / r[k], (py - y[k]) / r[k]
        d = np.hypot(dx, dy)
        leaf = tex.get("fine", idx)
        inside = d < 1.0 + 0.13 * leaf
        idx, k, dx, dy, d, leaf = (
            idx[inside],
            k[inside],
            dx[inside],
            dy[inside],
            d[inside],
            leaf[inside],
        )
        scale = np.maximum(d, 1.0)
        nx, ny = dx / scale, dy / scale
        nz = np.sqrt(np.clip(1.0 - nx * nx - ny * ny, 0, 1)) + 0.35
        norm = np.sqrt(nx * nx + ny * ny + nz * nz)
        lit = 0.45 + 0.8 * np.clip((nx * sun[0] + ny * sun[1] + nz * sun[2]) / norm, 0, 1)
        lit *= shade[k] * (1 + 0.22 * leaf + 0.08 * tex.get("grain", idx))
        blend(img, idx, tree_rgb * lit.astype(np.float32), np.clip(1.4 - d * 0.5, 0, 1))
