"""How sure the model was of a raster's roads: a figure without labels that tracks road IoU.

Of the output pixels whose road probability (the road classes' together) is at least 0.25
— the *road-like* pixels — the share still below 0.75 is the **unsure share**. A model that
knows the imagery draws roads with probabilities near 1 and the rest near 0; on imagery unlike
its training data many pixels land in between.

Measured for the default model on its 33 whole held-out images (2026-12-02,
``python bench/bench_confidence.py``; the figure against each image's road IoU, Spearman
ρ = −0.82 over the 26 images with labelled road, −0.90 within Dubai's, −0.52 within
Massachusetts'): synthetic scenes 0.12–0.20 (road IoU 0.74–0.85), SpaceNet Las Vegas 0.22
(0.72), Massachusetts 0.44–0.72 (0.08–0.51), Dubai 0.45–0.92 (0.05–0.62). Hence the ratings:
below :data:`GOOD` *good* (5 images, road IoU 0.72–0.85, mean 0.79), from :data:`POOR`
*poor* (10 images, 0.05–0.51, mean 0.30), between them *fair* (11 images, 0.19–0.62, mean
0.44). Imagery with few roads also rates high (a few unsure false roads are all there is: the
seven Dubai images without labelled road rate 0.48–0.92), and the figure has not been
checked on sources other than those four.

The counts are integers over uint8 probabilities, so the figure is as deterministic as the
class raster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from roadseg.errors import RoadsegWarning, log_warning

#: Road probability (uint8, × 255) from which a pixel is road-like: 0.25.
ROAD_LIKE_U8 = 64
#: Road probability (uint8) from which a road-like pixel is sure: 0.75.
SURE_U8 = 192
#: Unsure shares below this rate *good*.
GOOD = 0.3
#: Unsure shares from this rate *poor*.
POOR = 0.6


@dataclass(frozen=True)
class Confidence:
    """Counts of one raster's (or region's) valid output pixels.

    Attributes:
        pixels: Valid output pixels.
        road_like: Of them, those with road probability ≥ 0.25.
        unsure: Of those, the ones with road probability < 0.75.

    >>> road = np.array([[0, 70, 200, 255], [100, 10, 250, 30]], dtype=np.uint8)
    >>> c = Confidence.count(road, np.ones(road.shape, dtype=bool))
    >>> c, c.unsure_share, c.rating
    (Confidence(pixels=8, road_like=5, unsure=2), 0.4, 'fair')
    >>> (c + c).as_dict()
    {'unsure_share': 0.4, 'road_like_share': 0.625, 'rating': 'fair', 'pixels': 16}
    >>> Confidence(10).rating, Confidence().rating, Confidence().unsure_share
    ('no road found', 'no imagery', None)

    """

    pixels: int = 0
    road_like: int = 0
    unsure: int = 0

    @classmethod
    def count(cls, road: np.ndarray, valid: np.ndarray) -> Confidence:
        """Count rows of road probability (uint8) where ``valid``."""
        r = road[valid]
        like = r >= ROAD_LIKE_U8
        return cls(
            int(r.size), int(np.count_nonzero(like)), int(np.count_nonzero(like & (r < SURE_U8)))
        )

    def __add__(self, other: Confidence) -> Confidence:
        return Confidence(
            self.pixels + other.pixels,
            self.road_like + other.road_like,
            self.unsure + other.unsure,
        )

    @property
    def unsure_share(self) -> float | None:
        """Share of the road-like pixels below 0.75 road probability (None: none road-like)."""
        return self.unsure / self.road_like if self.road_like else None

    @property
    def rating(self) -> str:
        """``good``, ``fair``, ``poor``, ``no road found`` or ``no imagery`` (no valid pixel)."""
        u = self.unsure_share
        if u is None:
            return "no road found" if self.pixels else "no imagery"
        return "good" if u < GOOD else "poor" if u >= POOR else "fair"

    def as_dict(self) -> dict[str, object]:
        """The JSON form (``--json``'s ``confidence`` of each raster)."""
        u = self.unsure_share
        return {
            "unsure_share": None if u is None else round(u, 4),
            "road_like_share": round(self.road_like / self.pixels, 4) if self.pixels else None,
            "rating": self.rating,
            "pixels": self.pixels,
        }

    def text(self) -> str:
        """``good (14 % of road-like pixels unsure)``, as ``roadseg predict`` prints it.

        >>> Confidence(100, 10, 6).text(), Confidence(100).text(), Confidence().text()
        ('poor (60 % of road-like pixels unsure)', 'no road found', 'no imagery')
        """
        u = self.unsure_share
        return (
            self.rating
            if u is None
            else f"{self.rating} ({u * 100:.0f} % of road-like pixels unsure)"
        )

    def advice(self, raster: str) -> str | None:
        """A warning's text when the rating is poor (``road_threshold`` as a parameter reference)."""
        u = self.unsure_share
        if u is None or u < POOR:
            return None
        return (
            f"{raster}: the model is unsure of this imagery ({u * 100:.0f} % of its road-like "
            "pixels between 0.25 and 0.75 road probability; on the default model's hold-outs "
            "images rated so scored road IoU 0.30 on average, 0.79 under 30 %): expect missed "
            "and false roads. Adapt the model to a few of your roads (roadseg adapt; Adapt "
            "model in QGIS) or try a lower `road_threshold`. Imagery with few roads rates so too"
        )


class UnsureWarning(RoadsegWarning):
    """The model was unsure of a raster's imagery (its confidence rated poor)."""


def fit_warnings(rasters: Iterable[tuple[str, Confidence | None]]) -> list[RoadsegWarning]:
    """An :class:`UnsureWarning` (also logged) for each (raster name, confidence) rated poor."""
    out: list[RoadsegWarning] = []
    for name, sure in rasters:
        text = sure.advice(name) if sure is not None else None
        if text:
            w = UnsureWarning(text)
            log_warning(w)
            out.append(w)
    return out
