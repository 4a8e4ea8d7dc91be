"""Measuring the machine before an adaptation: forward time, CPU threads, GPU batch size.

A few forward passes of the starting model on random windows (about a second on a
CPU) tell how long a validation window takes. On a CPU shared with other work, torch
threads that wait for busy cores made training steps 3–4× slower here than a single
thread: when other processes fill the cores (:func:`cpu_busy`) one thread is used, else
all threads and one are timed alternately and the faster kept. On a GPU the largest
batch (16, 8 or 4) whose training step fits in memory is kept.

"Other processes" matters: the 1-minute load average still counts work that has just
ended, this process's own included. Measured in ``bench/bench_adapt.py``, where every run
follows the previous run's scoring on both cores: the load average said "busy" for every
adapt run but the first, and they trained on one of two idle cores (half the steps). So
the load average must be confirmed by a short sample of the CPU time other processes use
now (:func:`others_busy_cores`, Linux ``/proc/stat``; elsewhere the load average alone).
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


#: Seconds of the CPU-time sample that confirms a high load average.
SAMPLE_S = 0.3


def cpu_busy(cores: int, load: float | None = None, others: float | None = None) -> bool:
    """True when other processes keep the cores busy.

    Both the 1-minute load average (``load``) and the cores other processes use now
    (``others``, :func:`others_busy_cores`; sampled only when the load is high) must fill
    the cores; without a sample (not Linux) the load average decides alone.

    >>> cpu_busy(2, 5.3, 1.9), cpu_busy(2, 1.1, 1.9), cpu_busy(16, 3.0, 3.0)
    (True, False, False)

    A high load average left by work that has ended (this process's own) is not busy:

    >>> cpu_busy(2, 2.0, 0.1)
    False
    """
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:
            return False
    if load <= cores - 0.5:
        return False
    if others is None:
        others = others_busy_cores()
    return others is None or others > cores - 0.5


def _cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from ``/proc/stat``; None where there is none."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 4:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already in user
    return total - idle, total


def others_cores(
    before: tuple[int, int], after: tuple[int, int], own_s: float, wall_s: float, cores: int
) -> float:
    """Cores busy with other processes between two ``/proc/stat`` samples.

    >>> others_cores((0, 0), (60, 120), 0.0, 0.6, 2)   # 60 of 120 jiffies busy, not ours
    1.0
    >>> others_cores((0, 0), (60, 120), 0.6, 0.6, 2)   # the busy core was this process
    0.0

    Args:
        before: (busy, total) jiffies at the start.
        after: The same at the end.
        own_s: CPU seconds this process used meanwhile (all its threads).
        wall_s: Seconds between the samples.
        cores: CPUs.

    """
    d_busy, d_total = after[0] - before[0], after[1] - before[1]
    if d_total <= 0 or wall_s <= 0:
        return 0.0
    return max(0.0, d_busy / d_total * cores - own_s / wall_s)


def others_busy_cores(seconds: float = SAMPLE_S) -> float | None:
    """Cores other processes keep busy now, sampled over ``seconds``; None without /proc."""
    before = _cpu_jiffies()
    if before is None:
        return None
    own, t = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    after = _cpu_jiffies()
    if after is None:
        return None
    own_s, wall_s = time.process_time() - own, time.perf_counter() - t
    return others_cores(before, after, own_s, wall_s, os.cpu_count() or 1)


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
