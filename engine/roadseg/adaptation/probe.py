"""Measuring the machine before an adaptation: forward time, CPU threads, GPU batch size.

A few forward passes of the starting model on random windows (about a second on a
CPU) tell how long a validation window takes. On a CPU shared with other work, torch
threads that wait for busy cores made training steps 3–4× slower here than a single
thread: when the load average already fills the cores (:func:`cpu_busy`) one thread is
used, else all threads and one are timed alternately and the faster kept. On a GPU the
largest batch (16, 8 or 4) whose training step fits in memory is kept.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch

from roadseg.models import RoadNet


@dataclass(frozen=True)
class Probe:
    """What the probe measured.

    Attributes:
        seconds_per_window: Forward time of one window (no gradient).
        threads: Torch CPU threads that ran faster (None on a GPU).
        batch_size: Largest batch that fits a training step (GPU), else None.

    """

    seconds_per_window: float
    threads: int | None
    batch_size: int | None = None


def _forward_seconds(net: RoadNet, x: torch.Tensor, repeat: int = 1, warm: bool = True) -> float:
    with torch.no_grad():
        if warm:
            net(x[:1])  # warm-up: kernels, allocations
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            net(x)
            if x.is_cuda:
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t)
    return best / x.shape[0]


def cpu_busy(cores: int, load: float | None = None) -> bool:
    """True when other work already keeps the cores busy (1-minute load average).

    >>> cpu_busy(2, 5.3), cpu_busy(2, 1.1), cpu_busy(16, 3.0)
    (True, False, False)
    """
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:
            return False
    return load > cores - 0.5


def probe_machine(
    net: RoadNet, tile: int, device: str, threads: int, compare: bool = True
) -> Probe:
    """Time forward passes on ``device``; on a CPU choose ``threads`` threads or one.

    With ``compare`` one thread is chosen when the CPU is busy (:func:`cpu_busy`), else
    the faster of the two measured; without it ``threads`` is kept. The network is left
    in eval mode on ``device``; torch's thread count is restored.
    """
    was = torch.get_num_threads()
    net = net.eval().to(device)
    x = torch.rand(2, int(net.mean.shape[1]), tile, tile, device=device)
    if device.startswith("cuda"):
        sec = _forward_seconds(net, x)
        return Probe(sec, None, gpu_batch(net, tile, device))
    if compare and threads > 1 and cpu_busy(os.cpu_count() or 1):
        threads, compare = 1, False
    try:
        candidates = sorted({threads, 1}) if compare else [threads]
        timings: dict[int, list[float]] = {n: [] for n in candidates}
        for r in range(2 if compare else 1):
            for n in candidates:
                torch.set_num_threads(n)
                timings[n].append(_forward_seconds(net, x, warm=r == 0 and n == candidates[0]))
        best = min(candidates, key=lambda k: min(timings[k]))
        return Probe(min(timings[best]), best)
    finally:
        torch.set_num_threads(was)


def gpu_batch(net: RoadNet, tile: int, device: str, sizes: tuple[int, ...] = (16, 8, 4)) -> int:
    """The largest batch in ``sizes`` whose forward + backward fits in the GPU's memory."""
    channels = int(net.mean.shape[1])
    net.train()
    try:
        for b in sizes:
            try:
                x = torch.rand(b, channels, tile, tile, device=device)
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    net(x).float().mean().backward()
                return b
            except torch.cuda.OutOfMemoryError:
                pass
            finally:
                net.zero_grad(set_to_none=True)
                torch.cuda.empty_cache()
        return sizes[-1]
    finally:
        net.eval()
