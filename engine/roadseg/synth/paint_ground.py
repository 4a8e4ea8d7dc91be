"""Painting the ground: mixed soils and vegetation, then land-cover patches (fields, lawns, lots)."""

from __future__ import annotations

import numpy as np

from roadseg.synth.canvas import Canvas
from roadseg.synth.model import Layout
from roadseg.synth.noise import NoiseFactory, sigmoid
from roadseg.synth.style import Style


class Textures:
    """Shared noise fields for one scene, stored flat in float16 to save memory.

    Attributes:
        mid: Blotches of ~6 m.
        fine: Texture of ~1.2 m.
        grain: Pixel-level grain (~0.3 m, white at coarse pixel sizes).
    """

    def __init__(self, noise: NoiseFactory) -> None:
        self.noise = noise
        self.mid = noise.field("mid", 6.0).reshape(-1).astype(np.float16)
        self.fine = noise.field("fine", 1.2).reshape(-1).astype(np.float16)
        self.grain = noise.field("grain", 0.3).reshape(-1).astype(np.float16)

    def get(self, name: str, idx: np.ndarray) -> np.ndarray:
        """Values of field ``name`` at flat pixel indexes, as float32."""
        return getattr(self, name)[idx].astype(np.float32)


def paint_ground(img: np.ndarray, style: Style, noise: NoiseFactory, tex: Textures) -> None:
    """Fill ``img`` (3, N) with the bare land: three ground colours mixed by fractal noise."""
    a = sigmoid(noise.fbm("ground-a", (140.0, 45.0, 15.0), (1.0, 0.6, 0.35)), 2.0).reshape(-1)
    b = sigmoid(noise.fbm("ground-b", (70.0, 22.0, 7.0), (1.0, 0.5, 0.3)).reshape(-1) - 0.7, 2.4)
    b *= np.float32(0.75)
    g0, g1, g2 = (np.asarray(c, dtype=np.float32) for c in style.ground)
    shade = 1.0 + style.texture * (0.06 * tex.mid.astype(np.float32) + 0.05 * tex.fine + 0.045 * tex.grain)
    for c in range(3):
        ch = g0[c] + (g1[c] - g0[c]) * a
        ch += (g2[c] - ch) * b
        ch *= shade
        img[c] = ch


# Per-kind look: (weight of mid noise, fine noise, grain, row/stripe amplitude, share of the ground showing through)
_KINDS: dict[str, tuple[float, float, float, float, float]] = {
    "field": (0.07, 0.05, 0.03, 0.10, 0.0),
    "pasture": (0.10, 0.07, 0.04, 0.0, 0.25),
    "lawn": (0.06, 0.06, 0.04, 0.05, 0.3),
    "parking": (0.03, 0.03, 0.04, 0.0, 0.0),
    "vacant": (0.08, 0.06, 0.05, 0.0, 0.45),
    "concrete": (0.02, 0.025, 0.03, 0.0, 0.0),
    "pool": (0.02, 0.02, 0.01, 0.0, 0.0),
    "woods": (0.08, 0.08, 0.05, 0.0, 0.3),
    "gravel": (0.04, 0.06, 0.07, 0.0, 0.1),
}


def paint_patches(img: np.ndarray, layout: Layout, canvas: Canvas, tex: Textures) -> None:
    """Paint the land-cover patches, later ones over earlier ones."""
    if not layout.patches:
        return
    ids = canvas.ids([p.polygon for p in layout.patches])
    idx = np.flatnonzero(ids)
    if len(idx) == 0:
        return
    pid = ids[idx] - 1
    del ids
    params = np.array([_KINDS[p.kind] for p in layout.patches], dtype=np.float32)[pid]
    colour = np.array([p.colour for p in layout.patches], dtype=np.float32)[pid].T
    factor = 1.0 + params[:, 0] * tex.get("mid", idx) + params[:, 1] * tex.get("fine", idx) + params[:, 2] * tex.get("grain", idx)
    period = np.array([p.row_period for p in layout.patches], dtype=np.float32)[pid]
    rows = np.flatnonzero(period > 0)
    if len(rows):
        x, y = canvas.xy(idx[rows])
        ang = np.array([p.row_angle for p in layout.patches])[pid[rows]]
        ring = np.array([p.rings for p in layout.patches])[pid[rows]]
        cen = np.array([p.polygon.centroid.coords[0] for p in layout.patches])[pid[rows]]
        along = np.where(ring, np.hypot(x - cen[:, 0], y - cen[:, 1]), x * np.cos(ang) + y * np.sin(ang))
        per = period[rows]
        # Rows finer than ~2.5 pixels would alias into moiré: fade them out.
        fade = np.clip((per / canvas.gsd - 2.0) / 1.5, 0.0, 1.0)
        wave = np.sin(2 * np.pi * along / per).astype(np.float32)
        factor[rows] += params[rows, 3] * fade * wave
    pool = np.array([p.kind == "pool" for p in layout.patches])[pid]
    if pool.any():
        factor[pool] = 1.0 + 0.06 * tex.get("mid", idx[pool])
    colour *= factor
    ground_share = params[:, 4]
    blend_a = 1.0 - ground_share * (0.5 + 0.5 * np.clip(tex.get("mid", idx), -1, 1))
    cur = img[:, idx]
    img[:, idx] = cur + (colour - cur) * blend_a
