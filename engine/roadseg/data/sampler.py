"""Sample keys for streaming datasets: DDP-aware, epoch-aware, resumable.

A training sample is identified by an integer key ``epoch · N + i`` (N samples
per epoch, all ranks together). The dataset derives every random choice of the
sample — its window and its augmentation — from ``(seed, key)``, so a sample is
the same whichever DataLoader worker or rank computes it, and a resumed run
sees exactly the windows it would have seen. Each rank takes the keys with
``i ≡ rank (mod world_size)``: ranks never share a window. ``set_epoch`` is
called by Lightning at every epoch start; :meth:`WindowSampler.resume_at`
skips the samples an interrupted epoch had already consumed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler


def dist_rank_world() -> tuple[int, int]:
    """(rank, world size) of the default process group, (0, 1) without one."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def shard(n: int, rank: int, world: int, equal: bool = True) -> range:
    """Indexes of ``range(n)`` that belong to ``rank``: every ``world``-th one.

    With ``equal`` every rank gets ``n // world`` indexes (DDP needs equal step
    counts); else the first ranks get one more.

    >>> list(shard(10, 1, 3)), list(shard(10, 0, 3, equal=False))
    ([1, 4, 7], [0, 3, 6, 9])
    """
    if equal:
        return range(rank, (n // world) * world, world)
    return range(rank, n, world)


def key_rng(seed: int, key: int, stream: int = 0) -> np.random.Generator:
    """The random generator of one sample (independent of worker and rank).

    >>> key_rng(1, 5).random() == key_rng(1, 5).random()
    True
    """
    return np.random.default_rng([int(seed), int(key), int(stream)])


class WindowSampler(Sampler[int]):
    """Yields this rank's sample keys for the current epoch.

    Args:
        samples_per_epoch: Samples per epoch over all ranks.
        rank: Process rank (default: from torch.distributed at iteration time).
        world_size: Number of ranks (default: from torch.distributed).

    """

    def __init__(
        self, samples_per_epoch: int, rank: int | None = None, world_size: int | None = None
    ) -> None:
        self.samples_per_epoch = int(samples_per_epoch)
        self._rank = rank
        self._world = world_size
        self.epoch = 0
        self._skip_epoch = -1
        self._skip = 0

    def _rw(self) -> tuple[int, int]:
        r, w = dist_rank_world()
        return (
            self._rank if self._rank is not None else r,
            self._world if self._world is not None else w,
        )

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose keys the next iteration yields."""
        self.epoch = int(epoch)

    def resume_at(self, epoch: int, consumed: int) -> None:
        """Start at ``epoch`` and skip its first ``consumed`` samples (of this rank) once."""
        self.epoch = int(epoch)
        self._skip_epoch, self._skip = int(epoch), int(consumed)

    def state_dict(self) -> dict[str, int]:
        """The epoch (the consumed count is tracked by the training loop)."""
        return {"epoch": self.epoch, "samples_per_epoch": self.samples_per_epoch}

    def __len__(self) -> int:
        rank, world = self._rw()
        return len(shard(self.samples_per_epoch, rank, world))

    def __iter__(self) -> Iterator[int]:
        rank, world = self._rw()
        base = self.epoch * self.samples_per_epoch
        idx = shard(self.samples_per_epoch, rank, world)
        skip = self._skip if self._skip_epoch == self.epoch else 0
        self._skip_epoch, self._skip = -1, 0
        for i in idx[skip:]:
            yield base + i


class ShardSampler(Sampler[int]):
    """Fixed indexes ``0..n-1`` split over ranks (validation: every window once overall).

    A rank left without an index (fewer windows than ranks) gets one *padding* index
    ``n + rank`` instead: Lightning refuses a validation loader of zero length on any
    rank. :class:`~roadseg.data.datasets.ValWindows` serves a padding index as a
    window marked ``key = -1``, which validation leaves out of every metric.

    >>> [list(ShardSampler(1, rank=r, world_size=3)) for r in range(3)]
    [[0], [2], [3]]
    """

    def __init__(self, n: int, rank: int | None = None, world_size: int | None = None) -> None:
        self.n = int(n)
        self._rank = rank
        self._world = world_size

    def _rw(self) -> tuple[int, int]:
        r, w = dist_rank_world()
        return (
            self._rank if self._rank is not None else r,
            self._world if self._world is not None else w,
        )

    def _indexes(self) -> Sequence[int]:
        rank, world = self._rw()
        own = shard(self.n, rank, world, equal=False)
        return own if len(own) or self.n == 0 else [self.n + rank]

    def __len__(self) -> int:
        return len(self._indexes())

    def __iter__(self) -> Iterator[int]:
        return iter(self._indexes())


def worker_init(worker_id: int) -> None:
    """Prepare a DataLoader worker: its own file handles, and seeds from (base seed, rank, worker).

    Forked workers inherit the parent's open rasters: the dataset's ``reopen()``
    gives each worker its own. Sample content never depends on the seeds (it
    derives from the sample key), but third-party code in a worker gets
    distinct, reproducible streams.
    """
    import random

    info = torch.utils.data.get_worker_info()
    if info is not None and hasattr(info.dataset, "reopen"):
        info.dataset.reopen()
    base = info.seed if info is not None else 0  # torch: base_seed (per epoch iterator) + worker id
    rank, _ = dist_rank_world()
    s = np.random.SeedSequence([base % 2**63, rank, worker_id]).generate_state(2)
    np.random.seed(int(s[0]))
    random.seed(int(s[1]))
    torch.manual_seed(int(s[0]))
