"""Scene styles: layout kind, colour palettes, sun, haze and sensor effects.

A style name (``random``, ``urban``, ``suburban``, ``rural``) picks the layout
kind; every scene then draws its own palette (desert, green or dry land; dark,
light, reddish or concrete road surfaces; roof and car colours), sun angle,
shadow depth, haze, blur and noise from the scene's generator (domain
randomisation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from roadseg.errors import ConfigError

RGB = tuple[float, float, float]
LayoutKind = Literal["urban", "suburban", "rural"]
Biome = Literal["desert", "green", "dry"]

#: Style names accepted by :func:`sample_style` (and the ``style`` of synthetic scenes).
STYLES: tuple[str, ...] = ("random", "urban", "suburban", "rural")

_BIOME_GROUND: dict[str, tuple[RGB, RGB, RGB]] = {
    "desert": ((196, 166, 132), (172, 140, 108), (214, 190, 158)),
    "green": ((92, 112, 62), (118, 124, 78), (104, 92, 70)),
    "dry": ((168, 150, 104), (148, 134, 94), (124, 108, 80)),
}
_BIOME_GRASS: dict[str, RGB] = {
    "desert": (96, 112, 66),
    "green": (78, 118, 52),
    "dry": (138, 136, 82),
}
_BIOME_TREE: dict[str, RGB] = {"desert": (58, 72, 44), "green": (44, 70, 36), "dry": (62, 74, 44)}
_BIOME_DIRT: dict[str, RGB] = {
    "desert": (222, 200, 170),
    "green": (150, 128, 98),
    "dry": (196, 176, 140),
}
_CROPS: dict[str, tuple[RGB, ...]] = {
    "desert": ((88, 120, 56), (150, 140, 96), (188, 162, 120), (110, 132, 64), (170, 150, 104)),
    "green": (
        (86, 128, 48),
        (120, 140, 60),
        (164, 150, 90),
        (108, 86, 62),
        (70, 104, 44),
        (190, 172, 104),
    ),
    "dry": ((176, 158, 100), (150, 136, 84), (118, 130, 70), (130, 108, 80), (196, 178, 122)),
}
_ASPHALT: dict[str, RGB] = {
    "dark": (54, 56, 60),
    "grey": (92, 92, 94),
    "light": (130, 128, 124),
    "reddish": (112, 90, 84),
    "concrete": (172, 170, 162),
}
_ROOFS: tuple[RGB, ...] = (
    (146, 86, 66),
    (166, 112, 86),
    (98, 96, 98),
    (70, 70, 76),
    (190, 172, 146),
    (126, 110, 96),
    (60, 78, 96),
    (206, 204, 198),
)
_FLAT_ROOFS: tuple[RGB, ...] = (
    (212, 212, 208),
    (176, 176, 172),
    (150, 146, 140),
    (224, 220, 210),
    (120, 122, 126),
)
_CARS: tuple[RGB, ...] = (
    (235, 235, 235),
    (20, 20, 24),
    (160, 162, 166),
    (96, 98, 102),
    (150, 30, 30),
    (30, 54, 110),
    (220, 220, 214),
    (40, 40, 44),
    (180, 170, 150),
)


@dataclass(frozen=True, slots=True)
class Style:
    """Everything about a scene's look that is not geometry.

    Colours are RGB in 0–255 (float). Angles in degrees; the sun azimuth is the
    direction the light comes from, clockwise from north.
    """

    name: str
    layout: LayoutKind
    biome: Biome
    ground: tuple[RGB, RGB, RGB]
    grass: RGB
    tree: RGB
    dirt: RGB
    gravel: RGB
    crops: tuple[RGB, ...]
    asphalt_major: RGB
    asphalt_minor: RGB
    concrete: RGB
    marking: RGB
    centre_marking: RGB
    roofs: tuple[RGB, ...]
    flat_roofs: tuple[RGB, ...]
    cars: tuple[RGB, ...]
    sun_azimuth: float
    sun_elevation: float
    shadow: float
    haze: float
    haze_colour: RGB
    blur_px: float
    noise_dn: float
    gain: RGB
    saturation: float
    gamma: float
    wear: float
    texture: float
    shrubs_per_ha: float

    @property
    def sun_vector(self) -> tuple[float, float, float]:
        """Unit vector towards the sun in scene axes (x east, y south, z up)."""
        az, el = np.radians(self.sun_azimuth), np.radians(self.sun_elevation)
        return (float(np.sin(az) * np.cos(el)), float(-np.cos(az) * np.cos(el)), float(np.sin(el)))

    def shadow_offset(self, height_m: float) -> tuple[float, float]:
        """Ground offset (dx, dy) in metres of the shadow of a point ``height_m`` up."""
        sx, sy, sz = self.sun_vector
        k = height_m / max(sz, 0.2)
        return (-sx * k, -sy * k)


def _jitter(
    rng: np.random.Generator, rgb: RGB, amount: float = 0.08, tint: float | None = None
) -> RGB:
    """Scale brightness by ~``amount`` and each channel by ~``tint`` (default amount / 3)."""
    b = rng.normal(1.0, amount)
    ch = rng.normal(1.0, amount / 3.0 if tint is None else tint, 3)
    return tuple(float(np.clip(c * b * k, 0, 255)) for c, k in zip(rgb, ch, strict=True))  # type: ignore[return-value]


def sample_style(name: str, rng: np.random.Generator) -> Style:
    """Draw a style of kind ``name`` (one of :data:`STYLES`) from ``rng``.

    Raises:
        ConfigError: for an unknown style name (the message lists the choices).

    """
    if name not in STYLES:
        raise ConfigError(
            f"unknown `style` {name!r}",
            param="style",
            value=name,
            hint=f"choose one of {', '.join(STYLES)}",
        )
    layout: LayoutKind
    if name == "random":
        layout = rng.choice(["urban", "suburban", "rural"], p=[0.3, 0.35, 0.35]).item()
    else:
        layout = name  # type: ignore[assignment]
    biome: Biome = rng.choice(["desert", "green", "dry"], p=[0.38, 0.37, 0.25]).item()

    def j(c: RGB, a: float = 0.08, t: float | None = None) -> RGB:
        return _jitter(rng, c, a, t)

    ground = tuple(j(c, 0.07) for c in _BIOME_GROUND[biome])
    surf = ["dark", "grey", "light", "reddish", "concrete"]
    major = rng.choice(surf, p=[0.45, 0.25, 0.12, 0.1, 0.08]).item()
    minor = rng.choice(surf, p=[0.3, 0.3, 0.25, 0.1, 0.05]).item()
    us_markings = bool(rng.random() < 0.6)
    marking = j((232, 232, 226), 0.05)
    centre = j((226, 190, 70), 0.06) if us_markings else marking
    elevation = float(rng.uniform(32, 72))
    return Style(
        name=name,
        layout=layout,
        biome=biome,
        ground=ground,  # type: ignore[arg-type]
        grass=j(_BIOME_GRASS[biome]),
        tree=j(_BIOME_TREE[biome], 0.1),
        dirt=j(_BIOME_DIRT[biome]),
        gravel=j((170, 162, 150), 0.08, 0.01),
        crops=tuple(j(c, 0.1) for c in _CROPS[biome]),
        asphalt_major=j(_ASPHALT[major], 0.07, 0.01),
        asphalt_minor=j(_ASPHALT[minor], 0.08, 0.01),
        concrete=j((186, 182, 172), 0.06, 0.008),
        marking=marking,
        centre_marking=centre,
        roofs=tuple(j(c, 0.1) for c in _ROOFS),
        flat_roofs=tuple(j(c, 0.05, 0.006) for c in _FLAT_ROOFS),
        cars=_CARS,
        sun_azimuth=float(rng.uniform(100, 260) if rng.random() < 0.8 else rng.uniform(0, 360)),
        sun_elevation=elevation,
        shadow=float(rng.uniform(0.32, 0.55)),
        haze=float(rng.uniform(0.0, 0.22) ** 1.3),
        haze_colour=j((200, 206, 214), 0.04),
        blur_px=float(rng.uniform(0.35, 1.0)),
        noise_dn=float(rng.uniform(1.0, 4.5)),
        gain=(float(rng.normal(1, 0.03)), float(rng.normal(1, 0.02)), float(rng.normal(1, 0.035))),
        saturation=float(rng.uniform(0.55, 0.95)),
        gamma=float(rng.uniform(0.88, 1.12)),
        wear=float(rng.uniform(0.1, 1.0)),
        texture=float(rng.uniform(0.6, 1.3)),
        shrubs_per_ha=float(
            {
                "desert": rng.uniform(20, 120),
                "dry": rng.uniform(10, 60),
                "green": rng.uniform(0, 25),
            }[biome]
        ),
    )
