"""The spatial hold-out of an adaptation: labelled blocks kept out of training (pure).

The labelled area of every raster is cut into square blocks of one model tile. Blocks
that are mostly labelled and hold roads are candidates; validation blocks are taken
from them in the project's checkerboard order (``(row + 2·col + raster) % k``, as
:mod:`roadseg.data.split` does) until they hold ``share`` of the labelled pixels or
their number reaches the cap the time budget allows. Their labels are never trained
on; training windows may show their imagery beside a trained block, never their labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from roadseg.errors import DataError

#: Share of a block that must be labelled for it to be a validation candidate.
MIN_LABELLED = 0.5
#: Share of a candidate's labelled pixels that must be road.
MIN_ROAD = 0.005


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
        """Mostly labelled and with roads: fit to validate on.

        >>> Block(0, 0, 0, 100, 80, 5).candidate, Block(0, 0, 0, 100, 30, 5).candidate
        (True, False)
        """
        return self.labelled >= MIN_LABELLED * self.pixels and self.road >= max(
            1, MIN_ROAD * self.labelled
        )


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


def choose_holdout(blocks: Sequence[Block], share: float = 0.2, cap: int = 64) -> Holdout:
    """Pick validation blocks: spread in checkerboard order, ``share`` of the labels, ≤ ``cap``.

    At least one block is held out and at least one block with roads stays for training.

    >>> bl = [Block(0, r, c, 100, 100, 10) for r in range(4) for c in range(5)]
    >>> h = choose_holdout(bl, 0.2, 64)
    >>> len(h.blocks), h.labelled_share, sorted((b.row, b.col) for b in h.blocks)[:3]
    (4, 0.2, [(0, 0), (1, 2), (2, 4)])
    >>> len(choose_holdout(bl, 0.2, 2).blocks)
    2
    """
    if not 0 < share < 1:
        raise DataError(f"the hold-out share must be in (0, 1), got {share}")
    with_roads = [b for b in blocks if b.road > 0]
    cands = [b for b in blocks if b.candidate]
    if not cands:  # small or patchy areas: any block with roads will do
        cands = with_roads
    if len(with_roads) < 2 or not cands:
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
    chosen: list[Block] = []
    got = 0
    for b in order:
        if chosen and (got >= share * total or len(chosen) >= cap):
            break
        # Keep at least one block with roads for training.
        if len(with_roads) - sum(1 for c in chosen if c.road > 0) - (b.road > 0) < 1:
            continue
        chosen.append(b)
        got += b.labelled
    if not chosen:
        raise DataError(
            "no block could be held out for validation",
            param="labels",
            hint="label a larger area",
        )
    return Holdout(
        tuple(chosen),
        got / total,
        sum(b.road for b in chosen) / roads,
        len(cands),
    )
