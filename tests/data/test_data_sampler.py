"""DDP-aware keyed sampling: disjoint ranks, epochs differ, resume skips exactly."""

from __future__ import annotations

import pytest
from roadseg.data.sampler import ShardSampler, WindowSampler, shard


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_ranks_disjoint_and_equal(world):
    n = 103
    per_rank = [list(WindowSampler(n, rank=r, world_size=world)) for r in range(world)]
    assert len({len(p) for p in per_rank}) == 1  # equal step counts (DDP needs them)
    flat = [k for p in per_rank for k in p]
    assert len(flat) == len(set(flat))  # no window shared between ranks
    assert len(flat) >= n - world + 1


def test_epochs_give_new_keys():
    s = WindowSampler(10, rank=0, world_size=1)
    e0 = list(s)
    s.set_epoch(1)
    e1 = list(s)
    assert not set(e0) & set(e1)
    s.set_epoch(0)
    assert list(s) == e0


def test_resume_skips_consumed_once():
    s = WindowSampler(12, rank=1, world_size=2)
    s.set_epoch(3)
    full = list(s)
    s.resume_at(3, 2)
    assert list(s) == full[2:]
    assert list(s) == full  # only the first iteration skips
    s.resume_at(3, 2)
    s.set_epoch(4)  # another epoch: nothing skipped
    assert len(list(s)) == len(full)


def test_validation_shards_cover_everything_once():
    n = 11
    parts = [list(ShardSampler(n, rank=r, world_size=3)) for r in range(3)]
    assert sorted(k for p in parts for k in p) == list(range(n))
    assert list(shard(5, 0, 2, equal=False)) == [0, 2, 4]


def test_validation_rank_without_window_gets_one_padding_index():
    parts = [list(ShardSampler(2, rank=r, world_size=4)) for r in range(4)]
    assert parts == [[0], [1], [4], [5]]  # ranks 2 and 3: padding (≥ n), never a real window twice
    assert all(len(ShardSampler(2, rank=r, world_size=4)) == 1 for r in range(4))
    assert list(ShardSampler(0, rank=1, world_size=2)) == []  # no windows at all: nothing
