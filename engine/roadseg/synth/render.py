"""Rendering a layout into an RGB image: ground, patches, roads, cars, shadows, roofs, trees, sensor.

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
from roadseg.synth.paint_ground import Textures, paint_ground, paint_patches
from roadseg.synth.paint_objects import paint_cars, paint_roofs, paint_shadows, paint_trees
from roadseg.synth.paint_roads import paint_roads
from roadseg.synth.style import Style


def render(layout: Layout, style: Style, shape: tuple[int, int], gsd: float, seed: int,
           reporter: Reporter | None = None) -> np.ndarray:
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
    rng = noise.rng("sensor")
    out = np.empty(img.shape, dtype=np.uint8)
    haze = np.float32(style.haze)
    lum = (0.3 * img[0] + 0.59 * img[1] + 0.11 * img[2]) * np.float32(1.0 - style.saturation)
    for c in range(3):
        ch = img[c]
        ch *= np.float32(style.saturation)
        ch += lum
        ch *= np.float32(style.gain[c] * (1.0 - haze))
        ch += np.float32(style.haze_colour[c] * haze)
        if style.blur_px > 0.2:
            ch = gaussian_filter(ch, style.blur_px, mode="nearest")
        ch += rng.standard_normal(ch.shape, dtype=np.float32) * np.float32(style.noise_dn)
        np.clip(ch, 0.0, 255.0, out=ch)
        ch = 255.0 * (ch / 255.0) ** np.float32(style.gamma)
        out[c] = np.rint(ch).astype(np.uint8)
    del lum
    return out
