"""Label codes shared by every source: class ids, *road of unknown class*, *ignore*.

A model with several road classes (major / minor / track) can learn from labels that
only say "road" (Massachusetts masks, the Dubai masks, a soft road mask): those pixels
get :data:`ANY_ROAD`, and the loss asks only that the road classes together be likely
there (see :mod:`roadseg.training.losses`). :data:`IGNORE` pixels (no imagery, no-data
fill, unlabelled) count nowhere. A source's own class ids are mapped to the model's by
a 256-entry lookup table (:func:`class_lut`), applied by :class:`MappedLabels` to every
window it rasterises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from roadseg.errors import LabelError

#: Label value: a road pixel whose class is unknown (any road class is right).
ANY_ROAD = 254
#: Label value: pixel outside the loss and the metrics.
IGNORE = 255
#: Names that send a mask code to :data:`IGNORE`.
IGNORE_NAMES = ("ignore", "nodata", "no-data", "unlabeled", "unlabelled", "void")
#: Names that send a mask code to :data:`ANY_ROAD` when the model has no class of that name.
ANY_ROAD_NAMES = ("road", "roads", "any", "any_road")


def class_lut(
    source_names: Sequence[str], model_names: Sequence[str], source: str = "labels"
) -> np.ndarray | None:
    """Lookup table from a source's class ids to the model's (None when identical).

    A binary source (background, road) maps its road to the model's only road
    class, or to :data:`ANY_ROAD` when the model has several. Otherwise class
    names must match the model's (any order).

    >>> class_lut(["background", "road"], ["background", "major", "minor"])[:3].tolist()
    [0, 254, 2]
    >>> class_lut(["background", "road"], ["background", "road"]) is None
    True
    """
    src = [n.lower() for n in source_names]
    dst = [n.lower() for n in model_names]
    if src == dst:
        return None
    lut = np.arange(256, dtype=np.uint8)
    if len(src) == 2:
        lut[1] = 1 if len(dst) == 2 else ANY_ROAD
        return lut
    missing = [n for n in src[1:] if n not in dst]
    if missing:
        raise LabelError(
            f"{source}: classes {missing} are not classes of the model "
            f"({', '.join(model_names)}); map them with a class map or use road/background labels"
        )
    for i, n in enumerate(src):
        lut[i] = dst.index(n)
    return lut


def road_mask(labels: np.ndarray) -> np.ndarray:
    """True where a label says road (any road class or :data:`ANY_ROAD`).

    >>> road_mask(np.array([0, 1, 3, 254, 255])).tolist()
    [False, True, True, True, False]
    """
    return (labels > 0) & (labels != IGNORE)


class MappedLabels:
    """A label source whose class ids are mapped through a lookup table.

    Attribute access falls through to the wrapped source (``lines``, ``grid``,
    ``scheme`` ...), so scenes treat it like the original.
    """

    def __init__(self, labels: Any, lut: np.ndarray) -> None:
        self.labels = labels
        self.lut = np.asarray(lut, dtype=np.uint8)

    def rasterize(self, grid: Any) -> np.ndarray:
        """Mapped class ids on ``grid``."""
        return self.lut[self.labels.rasterize(grid)]

    def __getattr__(self, name: str) -> Any:
        if name in ("labels", "lut"):
            raise AttributeError(name)
        return getattr(self.labels, name)

    def __getstate__(self) -> dict[str, Any]:
        return {"labels": self.labels, "lut": self.lut}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.labels = state["labels"]
        self.lut = state["lut"]
