"""The spatial hold-out of an adaptation: labelled blocks kept out of training (pure).

The labelled area of every raster is cut into square blocks of one model tile. Blocks
that are mostly labelled are candidates, with or without roads: the hold-out is meant to
look like the ground the labels cover, so its best road threshold (which the adapted model
takes) also holds where the model will map. A hold-out of road blocks only never sees the
false road of road-free ground and pulls the threshold down (measured: see the README's
*Adapt to your area*). Validation blocks are taken in the project's checkerboard order
(``(row + 2·col + raster) % k``, as :mod:`roadseg.data.split` does) until they hold
``share`` of the labelled pixels; when the time budget allows fewer blocks than that, an
even spread of those blocks is kept (every raster and every part of it, not the first
rasters' top rows). The hold-out always holds some road and leaves some for training.
Its labels are never trained on; training windows may show its imagery beside a trained
block, never its labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from roadseg.errors import DataError

#: Share of a block that must be labelled for it to be a validation candidate.
MIN_LABELLED = 0.5


@dataclass(frozen=True, slots=True)
class Block:
    """One block of a raster's labelled crop.

    Attributes:
        raster: Index of the raster.
        row: Block row in the crop.
        col: Block column in the crop.
        pixels: Pixels of the block (source pixels).
        labelled: Pixels that are labelled (not ignored).
        road: Labelled road pixels.

    """

    raster: int
    row: int
    col: int
    pixels: int
    labelled: int
    road: int

    @property
    def candidate(self) -> bool:
        """Mostly labelled: fit to validate on (road-free blocks too).

        >>> Block(0, 0, 0, 100, 80, 5).candidate, Block(0, 0, 0, 100, 30, 5).candidate
        (True, False)
        >>> Block(0, 0, 0, 100, 80, 0).candidate
        True
        """
        return self.labelled >= MIN_LABELLED * self.pixels


@dataclass(frozen=True)
class Holdout:
    """The chosen validation blocks and their share of the labels."""

    blocks: tuple[Block, ...]
    labelled_share: float
    road_share: float
    candidates: int

    def as_dict(self) -> dict[str, float | int]:
        """JSON-able summary."""
        return {
            "blocks": len(self.blocks),
            "labelled_share": round(self.labelled_share, 4),
            "road_share": round(self.road_share, 4),
            "candidates": self.candidates,
        }


def spread(items: Sequence[Block], n: int) -> list[Block]:
    """``n`` of ``items`` at even steps through the sequence (all of them when ``n`` ≥ len).

    >>> [b.row for b in spread([Block(0, r, 0, 1, 1, 0) for r in range(10)], 4)]
    [0, 2, 5, 7]
    """
    if n >= len(items):
        return list(items)
    return [items[(i * len(items)) // n] for i in range(n)]


def choose_holdout(blocks: Sequence[Block], share: float = 0.2, cap: int = 64) -> Holdout:
    """Pick validation blocks: checkerboard order, ``share`` of the labels, ≤ ``cap``, spread.

    At least one held-out block has roads and at least one block with roads stays for
    training.

    >>> bl = [Block(0, r, c, 100, 100, 10) for r in range(4) for c in range(5)]
    >>> h = choose_holdout(bl, 0.2, 64)
    >>> len(h.blocks), h.labelled_share, sorted((b.row, b.col) for b in h.blocks)[:3]
    (4, 0.2, [(0, 0), (1, 2), (2, 4)])

    A budget for fewer blocks keeps a spread of them, not the first rows:

    >>> sorted((b.row, b.col) for b in choose_holdout(bl, 0.2, 2).blocks)
    [(0, 0), (2, 4)]

    Road-free blocks are held out like any other, but never without a road block:

    >>> dry = [Block(0, r, c, 100, 100, 10 if (r, c) in ((1, 1), (3, 3)) else 0)
    ...        for r in range(4) for c in range(5)]
    >>> h = choose_holdout(dry, 0.2, 64)
    >>> len(h.blocks), sum(b.road > 0 for b in h.blocks), h.road_share
    (5, 1, 0.5)
    """
    if not 0 < share < 1:
        raise DataError(f"the hold-out share must be in (0, 1), got {share}")
    with_roads = [b for b in blocks if b.road > 0]
    cands = [b for b in blocks if b.candidate]
    if not any(b.road > 0 for b in cands):  # small or patchy areas: any block with roads
        known = set(cands)
        cands += [b for b in with_roads if b not in known]
    if len(with_roads) < 2:
        raise DataError(
            "the labelled area is too small to hold part of it out for validation",
            param="labels",
            hint="label roads over at least two model tiles (e.g. 2 × 128 m × 128 m for a "
            "0.5 m model) or give a larger `area`",
        )
    k = max(2, int(round(1.0 / share)))
    order = sorted(
        cands, key=lambda b: ((b.row + 2 * b.col + b.raster) % k, b.raster, b.row, b.col)
    )
    total = sum(b.labelled for b in blocks) or 1
    roads = sum(b.road for b in blocks) or 1
    wanted: list[Block] = []
    got = 0
    for b in order:
        if wanted and got >= share * total:
            break
        wanted.append(b)
        got += b.labelled
    chosen = spread(wanted, max(1, cap))
    if not any(b.road > 0 for b in chosen):
        # Some road to score: the first road block in order joins (last place, when capped).
        first = next(b for b in order if b.road > 0)
        chosen = (chosen if len(chosen) < cap else chosen[:-1]) + [first]
    # Keep at least one block with roads for training.
    while sum(1 for b in chosen if b.road > 0) >= len(with_roads):
        last = max(i for i, b in enumerate(chosen) if b.road > 0)
        chosen.pop(last)
    return Holdout(
        tuple(chosen),
        sum(b.labelled for b in chosen) / total,
        sum(b.road for b in chosen) / roads,
        len(cands),
    )
