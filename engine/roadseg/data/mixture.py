"""Drawing training windows from several sources: sampling weights and scale jitter.

Each draw first picks a source with probability proportional to its weight (so a
small real dataset is seen as often as asked, whatever the size of the others),
then a window of that source (:class:`~roadseg.data.plan.WindowPlan`). With scale
jitter ``j`` the window's ground footprint is ``s`` times the tile, ``s`` drawn
log-uniformly in ``[1 − j, 1 + j]``, and read back at tile size: the network sees
the ground at ``gsd · s`` metres per pixel, as imagery of another resolution (or
with a wrong stated one) would look. Every choice comes from the sample's own
random generator: a draw is a pure function of ``(seed, key)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from roadseg.data.plan import WindowPlan
from roadseg.errors import ConfigError

#: A training draw: (global scene index, x, y, window side in working pixels).
Draw = tuple[int, int, int, int]


class SourceMixture:
    """Weighted draws over several sources' window plans.

    Args:
        plans: One plan per source (scene indexes local to the source).
        offsets: Global index of each source's first scene.
        weights: Sampling weight per source (> 0).
        jitter: Scale jitter per source, in [0, 1).
        tile: Window side in working pixels (the network's input).

    >>> from roadseg.data.plan import split_scene
    >>> p = WindowPlan([split_scene(512, 512, 64, "train", 0.0, "checkerboard", 0, 0)],
    ...                [np.zeros((0, 2))], 64)
    >>> m = SourceMixture([p, p], [0, 1], [1.0, 3.0], [0.0, 0.3], 64)
    >>> s, x, y, size = m.draw(np.random.default_rng(0))
    >>> s in (0, 1) and 44 <= size <= 84
    True

    """

    def __init__(
        self,
        plans: Sequence[WindowPlan],
        offsets: Sequence[int],
        weights: Sequence[float],
        jitter: Sequence[float],
        tile: int,
    ) -> None:
        if not (len(plans) == len(offsets) == len(weights) == len(jitter)) or not plans:
            raise ConfigError(
                "a source mixture needs one plan, offset, weight and jitter per source"
            )
        w = np.asarray(weights, dtype=np.float64)
        if not np.all(w > 0):
            raise ConfigError(f"source weights must be positive, got {list(weights)}")
        self.plans = list(plans)
        self.offsets = [int(o) for o in offsets]
        self.weights = w / w.sum()
        self._cum = np.cumsum(self.weights)
        self.jitter = [float(j) for j in jitter]
        for j in self.jitter:
            if not 0.0 <= j < 1.0:
                raise ConfigError(f"scale jitter must be in [0, 1), got {j}")
        self.tile = int(tile)

    @property
    def num_train_blocks(self) -> int:
        """Train blocks over all sources."""
        return sum(p.num_train_blocks for p in self.plans)

    @property
    def num_road_points(self) -> int:
        """Road locations available for biased draws, over all sources."""
        return sum(p.num_road_points for p in self.plans)

    def source_of(self, u: float) -> int:
        """Source index for a uniform number ``u`` in [0, 1)."""
        return min(len(self.plans) - 1, int(np.searchsorted(self._cum, u, side="right")))

    def window_size(self, jitter: float, rng: np.random.Generator) -> int:
        """Window side (working pixels) for one draw: ``tile · s`` rounded to an even number."""
        if jitter <= 0:
            return self.tile
        s = math.exp(rng.uniform(math.log(1.0 - jitter), math.log(1.0 + jitter)))
        return max(32, 2 * int(round(self.tile * s / 2)))

    def draw(self, rng: np.random.Generator) -> Draw:
        """One training window: (global scene, x, y, side in working pixels)."""
        k = self.source_of(float(rng.random())) if len(self.plans) > 1 else 0
        size = self.window_size(self.jitter[k], rng)
        s, x, y = self.plans[k].draw(rng, size)
        return self.offsets[k] + s, x, y, size
