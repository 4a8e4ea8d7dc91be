"""The CPU probe's "busy" test counts other processes' CPU use, not this process's own."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from roadseg.adaptation.probe import _cpu_jiffies, others_busy_cores

pytestmark = pytest.mark.skipif(_cpu_jiffies() is None, reason="needs Linux /proc/stat")


def _burn(stop: threading.Event) -> None:
    x = 0
    while not stop.is_set():
        x += 1


def test_own_work_is_not_other_work():
    stop = threading.Event()
    t = threading.Thread(target=_burn, args=(stop,))
    t.start()
    try:
        time.sleep(0.2)
        own = others_busy_cores(1.0)  # one core busy with this process
    finally:
        stop.set()
        t.join()
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        other = others_busy_cores(1.0)  # one core busy with another process
    finally:
        child.kill()
        child.wait()
    assert own is not None and other is not None
    # The same background either way; only the other process's core counts.
    assert other - own > 0.5, (own, other)
