"""Painting roads: sidewalks or shoulders, surfaces with wear, kerbs, ruts and lane markings.

Every surface is the buffer of the road's own centreline by half its width, so
the label layer (the same centrelines) lands exactly on the painted road.
"""

from __future__ import annotations

import numpy as np
import shapely

from roadseg.synth.canvas import Canvas, blend, chunks, darken
from roadseg.synth.geometry import dashes, offset
from roadseg.synth.model import Layout, Road
from roadseg.synth.paint_ground import Textures
from roadseg.synth.style import Style


def _road_colour(style: Style, road: Road, rng: np.random.Generator) -> np.ndarray:
    if road.road_class == "track":
        base = np.asarray(style.dirt)
    elif not road.paved:
        base = np.asarray(style.gravel)
    else:
        base = np.asarray(
            style.asphalt_major if road.road_class == "major" else style.asphalt_minor
        )
    return base * rng.normal(1.0, 0.05) * rng.normal(1.0, 0.015, 3)


def paint_roads(
    img: np.ndarray,
    layout: Layout,
    style: Style,
    canvas: Canvas,
    tex: Textures,
    rng: np.random.Generator,
) -> np.ndarray:
    """Paint every road; return the flat junction mask (pixels on two or more roads)."""
    order = sorted(
        range(len(layout.roads)),
        key=lambda i: ("track", "minor", "major").index(layout.roads[i].road_class),
    )
    roads = [layout.roads[i] for i in order]
    paved = [r for r in roads if r.paved]
    if layout.sidewalk_m > 0:
        side = np.flatnonzero(canvas.mask([r.surface(layout.sidewalk_m + 0.3) for r in paved]))
        col = np.asarray(style.concrete, np.float32)[:, None] * (
            1 + 0.03 * tex.get("fine", side) + 0.03 * tex.get("grain", side)
        )
        blend(img, side, col, 0.95)
    else:
        sh = np.flatnonzero(canvas.mask([r.surface(rng.uniform(0.4, 1.2)) for r in paved]))
        blend(img, sh, style.gravel, np.clip(0.35 + 0.25 * tex.get("fine", sh), 0, 1))
    # Soft, irregular margins of dirt roads.
    soft = [r for r in roads if not r.paved]
    fr = np.flatnonzero(canvas.mask([r.surface(0.6) for r in soft]))
    if len(fr):
        dirt = np.asarray(style.dirt, np.float32) * 0.97
        blend(img, fr, dirt, np.clip(0.3 + 0.35 * tex.get("fine", fr), 0, 1))

    ids = canvas.ids([r.surface() for r in roads])
    colours = np.array([_road_colour(style, r, rng) for r in roads], dtype=np.float32)
    unpaved_road = np.array([not r.paved for r in roads])
    wear = np.float32(style.wear)
    for idx, rid in chunks(ids):
        unpaved = unpaved_road[rid]
        mid, fine, grain = tex.get("mid", idx), tex.get("fine", idx), tex.get("grain", idx)
        factor = 1.0 + np.where(
            unpaved,
            0.07 * mid + 0.06 * fine + 0.05 * grain,
            0.035 * wear * mid + 0.025 * fine + 0.035 * grain,
        )
        # Worn asphalt: lighter blotches.
        factor += np.where(unpaved, 0.0, 0.12 * wear * np.clip(mid - 0.8, 0, None))
        col = colours[rid].T * factor
        u = np.flatnonzero(unpaved)
        if len(u):
            # Dirt and gravel: compacted, lighter than the land beside them.
            col[:, u] = 0.45 * col[:, u] + 0.55 * np.minimum(img[:, idx[u]] * 1.3 + 12.0, 255.0)
        alpha = np.where(unpaved, np.clip(0.85 + 0.15 * fine, 0, 1), 1.0).astype(np.float32)
        blend(img, idx, col, alpha)
    del ids

    junction = canvas.count([r.surface(0.5) for r in roads]) >= 2
    _tyre_tracks(img, roads, style, canvas)
    _medians(img, roads, style, canvas, tex, junction)
    if layout.sidewalk_m > 0:
        outer = canvas.mask([r.surface() for r in paved])
        inner = canvas.mask([r.surface(-0.35) for r in paved])
        kerb = np.flatnonzero(outer & ~inner)
        blend(img, kerb, np.asarray(style.concrete, np.float32) * 1.08, 0.9)
    _markings(img, layout, roads, style, canvas, junction, rng)
    return junction


def _tyre_tracks(img: np.ndarray, roads: list[Road], style: Style, canvas: Canvas) -> None:
    """Darker wheel paths in lanes, ruts on tracks."""
    paths, ruts = [], []
    for r in roads:
        if r.road_class == "track" or not r.paved:
            ruts += [offset(r.line, d) for d in (-0.8, 0.8)]
            continue
        for c in r.lane_centres():
            paths += [offset(r.line, c + d) for d in (-0.85, 0.85)]
    if paths:
        idx = np.flatnonzero(
            canvas.mask([shapely.buffer(p, 0.35) for p in paths], all_touched=canvas.gsd > 0.7)
        )
        darken(img, idx, (0.9, 0.9, 0.9), 0.6 * style.wear)
    if ruts:
        idx = np.flatnonzero(
            canvas.mask([shapely.buffer(p, 0.3) for p in ruts], all_touched=canvas.gsd > 0.6)
        )
        darken(img, idx, (0.86, 0.86, 0.88), 0.8)


def _medians(
    img: np.ndarray,
    roads: list[Road],
    style: Style,
    canvas: Canvas,
    tex: Textures,
    junction: np.ndarray,
) -> None:
    """Paint raised median strips (kerbed, gravel or grass), open at junctions."""
    med = [r for r in roads if r.median_m > 0]
    if not med:
        return
    outer = (
        canvas.mask([shapely.buffer(r.line, r.median_m / 2, cap_style="flat") for r in med])
        & ~junction
    )
    inner = canvas.mask(
        [shapely.buffer(r.line, r.median_m / 2 - 0.3, cap_style="flat") for r in med]
    )
    kerb = np.flatnonzero(outer & ~inner)
    blend(img, kerb, np.asarray(style.concrete, np.float32) * 1.05, 0.95)
    fill = np.flatnonzero(outer & inner)
    base = np.asarray(style.grass if style.biome != "desert" else style.gravel, np.float32)[:, None]
    blend(img, fill, base * (1 + 0.1 * tex.get("mid", fill) + 0.08 * tex.get("fine", fill)), 0.95)


def _markings(
    img: np.ndarray,
    layout: Layout,
    roads: list[Road],
    style: Style,
    canvas: Canvas,
    junction: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Edge, lane and centre lines on paved roads (none inside junctions), and painted lots."""
    solid: list = []
    dashed: list = []
    centre: list = []
    marked_minor = rng.random() < (0.6 if layout.kind != "suburban" else 0.2)
    for r in roads:
        if not r.paved or r.road_class == "track" or (r.road_class == "minor" and not marked_minor):
            continue
        if r.road_class == "major":
            solid += [offset(r.line, d) for d in (-(r.width_m / 2 - 0.45), r.width_m / 2 - 0.45)]
        lines, centre_line = r.lane_lines()
        dashed += [dashes(offset(r.line, c), 3.0, 9.0) for c in lines]
        if centre_line:
            if style.centre_marking != style.marking and r.road_class == "major":
                centre += [offset(r.line, d) for d in (-0.18, 0.18)]
            else:
                dashed.append(dashes(r.line, 3.0, 6.0))
    wear = 0.55 + 0.45 * (1 - style.wear)
    for geoms, colour in (
        (solid, style.marking),
        (dashed, style.marking),
        (centre, style.centre_marking),
    ):
        idx, cover = canvas.line_pixels(geoms, 0.15)
        idx = idx[~junction[idx]]
        blend(img, idx, colour, min(1.0, cover * 1.4) * wear)
    groups: dict[tuple[float, tuple[float, ...]], list] = {}
    for geom, width, colour in layout.paint:
        groups.setdefault((width, tuple(colour)), []).append(geom)
    for (width, paint), geoms in groups.items():
        idx, cover = canvas.line_pixels(geoms, width)
        blend(img, idx, paint, min(1.0, cover * 1.4) * wear)
