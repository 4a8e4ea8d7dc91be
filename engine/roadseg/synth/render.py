"""Rendering a layout into an RGB image: ground, patches, roads, cars, shadows, roofs, trees.

Everything is measured in metres and drawn with vectorised rasterisation and
array arithmetic; only the sensor effects (blur, noise) are in pixels.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from roadseg.progress import Reporter
from roadseg.synth.canvas import Canvas
from roadseg.synth.model import Layout
from roadseg.synth.noise import NoiseFactory
from roadseg.synth.paint_ground import Textures, paint_ground, paint_patches, strips
from roadseg.synth.paint_objects import paint_cars, paint_roofs, paint_shadows, paint_trees
from roadseg.synth.paint_roads import paint_roads
from roadseg.synth.style import Style


def render(
    layout: Layout,
    style: Style,
    shape: tuple[int, int],
    gsd: float,
    seed: int,
    reporter: Reporter | None = None,
) -> np.ndarray:
    """Render ``layout`` as a uint8 array (3, H, W).

    Args:
        layout: The scene's content in metres.
        style: Palette, sun and sensor.
        shape: (height, width) in pixels.
        gsd: Pixel size in metres.
        seed: Scene seed (noise fields and colour jitter).
        reporter: Progress and cancel.

    """
    rep = reporter or Reporter()
    steps = ("ground", "patches", "roads", "cars", "shadows", "roofs", "trees", "sensor")
    canvas = Canvas(shape, gsd)
    noise = NoiseFactory(seed, shape, gsd)
    rng = noise.rng("render")
    img = np.empty((3, canvas.size), dtype=np.float32)

    def step(i: int) -> None:
        rep.update("render", i, len(steps), steps[min(i, len(steps) - 1)])

    step(0)
    tex = Textures(noise)
    paint_ground(img, style, noise, tex)
    step(1)
    paint_patches(img, layout, canvas, tex)
    step(2)
    paint_roads(img, layout, style, canvas, tex, rng)
    step(3)
    paint_cars(img, layout, style, canvas, tex)
    step(4)
    paint_shadows(img, layout, style, canvas)
    step(5)
    paint_roofs(img, layout, style, canvas, tex)
    step(6)
    paint_trees(img, layout, style, canvas, tex)
    del tex
    step(7)
    out = sensor(img.reshape(3, *shape), style, noise)
    step(8)
    return out


def sensor(img: np.ndarray, style: Style, noise: NoiseFactory) -> np.ndarray:
    """Colour balance, haze, optical blur, sensor noise and tone curve → uint8 (3, H, W)."""
    _, h, w = img.shape
    out = np.empty(img.shape, dtype=np.uint8)
    haze, sat = np.float32(style.haze), np.float32(style.saturation)
    for r0, r1 in strips(h):
        band = img[:, r0:r1]
        lum = (0.3 * band[0] + 0.59 * band[1] + 0.11 * band[2]) * (1 - sat)
        for c in range(3):
            ch = band[c]
            ch *= sat
            ch += lum
            ch *= np.float32(style.gain[c] * (1.0 - haze))
            ch += np.float32(style.haze_colour[c] * haze)
    blurred = np.empty((h, w), dtype=np.float32)
    gamma = np.float32(style.gamma)
    for c in range(3):
        if style.blur_px > 0.2:
            gaussian_filter(img[c], style.blur_px, output=blurred, mode="nearest")
        else:
            blurred[...] = img[c]
        for r0, r1 in strips(h):
            ch = blurred[r0:r1]
            ch += noise.rng("sensor", c, r0).standard_normal(
                ch.shape, dtype=np.float32
            ) * np.float32(style.noise_dn)
            np.clip(ch, 0.0, 255.0, out=ch)
            out[c, r0:r1] = np.rint(255.0 * (ch / 255.0) ** gamma)
    return out
