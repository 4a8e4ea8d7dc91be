"""The adaptation hold-out looks like the labelled ground: its road share, its spread."""

from __future__ import annotations

from roadseg.adaptation.holdout import Block, choose_holdout


def _grid(rasters: int, rows: int, cols: int, road: set[tuple[int, int, int]]) -> list[Block]:
    """Fully labelled blocks of 100 px; 10 road px in the (raster, row, col) of ``road``."""
    return [
        Block(k, r, c, 100, 100, 10 if (k, r, c) in road else 0)
        for k in range(rasters)
        for r in range(rows)
        for c in range(cols)
    ]


def test_road_share_follows_the_labelled_share() -> None:
    """One road across a 10 × 10 block raster: the hold-out takes its share of the road,
    not nearly all of it (a hold-out of road blocks only left training almost no road)."""
    blocks = _grid(1, 10, 10, {(0, 5, c) for c in range(10)})
    h = choose_holdout(blocks, 0.2, 64)
    assert abs(h.labelled_share - 0.2) < 0.01
    assert 0 < h.road_share <= 0.3
    held_road = sum(1 for b in h.blocks if b.road)
    assert 1 <= held_road <= 3
    assert any(b.road == 0 for b in h.blocks)  # road-free ground is scored too


def test_a_capped_holdout_spreads_over_rasters_and_rows() -> None:
    """When the budget allows fewer blocks than the share asks, they come from every part."""
    many = _grid(10, 5, 5, {(k, r, c) for k in range(10) for r in range(5) for c in range(5)})
    h = choose_holdout(many, 0.2, 10)
    assert len(h.blocks) == 10
    assert len({b.raster for b in h.blocks}) >= 8

    one = _grid(1, 20, 20, {(0, r, c) for r in range(20) for c in range(20)})
    h = choose_holdout(one, 0.2, 8)
    rows = sorted(b.row for b in h.blocks)
    assert len(h.blocks) == 8 and rows[-1] - rows[0] >= 12


def test_holdout_keeps_road_for_training_and_scoring() -> None:
    """Two road blocks in a large road-free area: one is scored, one is trained on."""
    blocks = _grid(1, 10, 10, {(0, 0, 1), (0, 9, 9)})
    h = choose_holdout(blocks, 0.2, 64)
    assert sum(1 for b in h.blocks if b.road) == 1
    assert h.road_share == 0.5
