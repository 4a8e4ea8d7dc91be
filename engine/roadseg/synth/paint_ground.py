"""Painting the ground: mixed soils and vegetation, then land-cover patches (fields, lawns...)."""

from __future__ import annotations

import numpy as np

from roadseg.synth.canvas import Canvas, chunks
from roadseg.synth.model import Layout
from roadseg.synth.noise import STRIP, NoiseFactory, sigmoid
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
        h, w = noise.shape
        for name, scale in (("mid", 6.0), ("fine", 1.2), ("grain", 0.3)):
            arr = np.empty(h * w, dtype=np.float16)
            for r0, r1 in strips(h):
                arr[r0 * w : r1 * w] = noise.field(name, scale, (r0, r1)).reshape(-1)
            setattr(self, name, arr)

    def get(self, name: str, idx: np.ndarray | slice) -> np.ndarray:
        """Values of field ``name`` at flat pixel indexes (or a slice), as float32."""
        return getattr(self, name)[idx].astype(np.float32)


def strips(h: int, step: int = STRIP) -> list[tuple[int, int]]:
    """Bands of rows (start, stop) covering ``h`` rows.

    >>> strips(5, 2)
    [(0, 2), (2, 4), (4, 5)]
    """
    return [(a, min(a + step, h)) for a in range(0, h, step)]


def paint_ground(img: np.ndarray, style: Style, noise: NoiseFactory, tex: Textures) -> None:
    """Fill ``img`` (3, N) with the bare land: three ground colours mixed by fractal noise."""
    w = noise.shape[1]
    g0, g1, g2 = (np.asarray(c, dtype=np.float32) for c in style.ground)
    for r0, r1 in strips(noise.shape[0]):
        sl = slice(r0 * w, r1 * w)
        a = sigmoid(
            noise.fbm("ground-a", (140.0, 45.0, 15.0), (1.0, 0.6, 0.35), (r0, r1)), 2.0
        ).reshape(-1)
        b = sigmoid(
            noise.fbm("ground-b", (70.0, 22.0, 7.0), (1.0, 0.5, 0.3), (r0, r1)).reshape(-1) - 0.7,
            2.4,
        )
        b *= np.float32(0.75)
        shade = 1.0 + style.texture * (
            0.06 * tex.get("mid", sl) + 0.05 * tex.get("fine", sl) + 0.045 * tex.get("grain", sl)
        )
        for c in range(3):
            ch = g0[c] + (g1[c] - g0[c]) * a
            ch += (g2[c] - ch) * b
            ch *= shade
            img[c, sl] = ch


# Per-kind look: (weight of mid noise, fine noise, grain, row/stripe amplitude,
# share of the ground showing through)
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
    patches = layout.patches
    if not patches:
        return
    ids = canvas.ids([p.polygon for p in patches])
    table = np.array([_KINDS[p.kind] for p in patches], dtype=np.float32)
    colours = np.array([p.colour for p in patches], dtype=np.float32)
    periods = np.array([p.row_period for p in patches], dtype=np.float32)
    angles = np.array([p.row_angle for p in patches])
    rings = np.array([p.rings for p in patches])
    centres = np.array([p.polygon.centroid.coords[0] if p.rings else (0.0, 0.0) for p in patches])
    pools = np.array([p.kind == "pool" for p in patches])
    for idx, pid in chunks(ids):
        params = table[pid]
        colour = colours[pid].T
        mid = tex.get("mid", idx)
        factor = (
            1.0
            + params[:, 0] * mid
            + params[:, 1] * tex.get("fine", idx)
            + params[:, 2] * tex.get("grain", idx)
        )
        period = periods[pid]
        rows = np.flatnonzero(period > 0)
        if len(rows):
            x, y = canvas.xy(idx[rows])
            k = pid[rows]
            cen = centres[k]
            along = np.where(
                rings[k],
                np.hypot(x - cen[:, 0], y - cen[:, 1]),
                x * np.cos(angles[k]) + y * np.sin(angles[k]),
            )
            per = period[rows]
            # Rows finer than ~2.5 pixels would alias into moiré: fade them out.
            fade = np.clip((per / canvas.gsd - 2.0) / 1.5, 0.0, 1.0)
            factor[rows] += (
                params[rows, 3] * fade * np.sin(2 * np.pi * along / per).astype(np.float32)
            )
        pool = pools[pid]
        if pool.any():
            factor[pool] = 1.0 + 0.06 * mid[pool]
        colour *= factor
        alpha = 1.0 - params[:, 4] * (0.5 + 0.5 * np.clip(mid, -1, 1))
        cur = img[:, idx]
        img[:, idx] = cur + (colour - cur) * alpha
