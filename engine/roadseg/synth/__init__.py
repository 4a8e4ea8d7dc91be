"""Synthetic georeferenced road scenes: an aerial-like RGB image and its road centrelines.

>>> from roadseg.synth import make_scene  # doctest: +SKIP
>>> make_scene("out/scene", size=1024, seed=1, gsd=0.5, style="suburban")  # doctest: +SKIP

See :func:`make_scene`. The layout (roads, houses, fields, trees, cars) is drawn
in metres from the seed; the look (palette, sun, haze, blur, noise) is drawn
per scene from the style (domain randomisation).
"""

from roadseg.synth.scene import LAYOUTS, SceneResult, build_scene, make_scene
from roadseg.synth.style import STYLES, Style, sample_style

__all__ = ["LAYOUTS", "STYLES", "SceneResult", "Style", "build_scene", "make_scene", "sample_style"]
