"""Device selection and the precision / memory-format policy for inference.

``auto`` picks CUDA, else Apple MPS, else the CPU. Precision ``auto`` uses
reduced precision only where it pays:

* CUDA: bf16 autocast where the GPU supports it, else fp16; channels_last.
* CPU: bf16 autocast only if the CPU has native bf16 instructions (``avx512_bf16``
  / ``amx_bf16`` / Arm ``bf16``) AND a short probe (two 3×3 convolutions, about
  0.2 s, once per process) shows it at least 1.15× faster than fp32. Flags alone
  are not enough: on an AMD EPYC with avx512_bf16, bf16 + channels_last ran ~2×
  faster than fp32 (SETUP-NOTES), but on the Intel Xeon (AVX10.1, avx512_bf16,
  no AMX) this was developed on, Unet-resnet34 on 2×3×512² gave fp32 0.58 MP/s,
  fp32 channels_last 0.78, bf16 channels_last 0.65, fp16 channels_last 0.61 (best
  of 3, one process, 2 threads), and the probe measured bf16 at 0.82× of fp32.
  channels_last always (1.3× for fp32 there).
* MPS: fp32, contiguous (autocast support on MPS varies between torch versions).
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch

from roadseg.errors import ConfigError

Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

#: bf16 must be at least this much faster than fp32 in the CPU probe to be chosen.
CPU_BF16_MIN_SPEEDUP = 1.15


@dataclass(frozen=True)
class ComputePolicy:
    """Where and how the network runs.

    Attributes:
        device: The torch device.
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (autocast dtype).
        channels_last: Use the NHWC memory format for the network and its input.
        reason: Why this precision was chosen (for logs and reports).

    """

    device: torch.device
    precision: str
    channels_last: bool
    reason: str = ""

    @property
    def memory_format(self) -> torch.memory_format:
        """The memory format for the model and its input."""
        return torch.channels_last if self.channels_last else torch.contiguous_format

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Autocast to the policy's dtype (a no-op for fp32)."""
        if self.precision == "fp32":
            yield
            return
        with torch.autocast(self.device.type, dtype=_DTYPES[self.precision]):
            yield

    def describe(self) -> str:
        """Short text such as ``"cpu bf16 channels_last"``."""
        return f"{self.device} {self.precision}" + (" channels_last" if self.channels_last else "")


def resolve_device(name: str = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda|cuda:N|mps`` into an available device.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise ConfigError(
                "`device` mps: Apple MPS is not available here",
                param="device",
                value=name,
                hint="use `device` auto or cpu",
            )
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"`device` {name}: CUDA is not available (no GPU or a CPU-only torch)",
                param="device",
                value=name,
                hint="use `device` auto or cpu",
            )
        idx = name.partition(":")[2]
        if idx:
            if not idx.isdigit() or int(idx) >= torch.cuda.device_count():
                raise ConfigError(
                    f"`device` {name}: no such GPU",
                    param="device",
                    value=name,
                    hint="valid: "
                    + ", ".join(f"cuda:{i}" for i in range(torch.cuda.device_count())),
                )
        return torch.device(name)
    raise ConfigError(
        f"`device` {name!r} is not a device",
        param="device",
        value=name,
        hint="valid: auto, cpu, cuda, cuda:N, mps",
    )


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def cpu_has_bf16() -> bool:
    """Return True when the CPU advertises native bf16 instructions."""
    flags = _cpu_flags()
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return frozenset({"bf16"})  # Apple M2 and later; the probe decides anyway
    return frozenset()


@functools.cache
def cpu_bf16_speedup() -> float:
    """Measured fp32 / bf16 time of two 3×3 convolutions on this CPU (once per process)."""
    from torch import nn

    gen = torch.Generator().manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1)
    ).eval()
    net = net.to(memory_format=torch.channels_last)
    x = torch.rand(1, 64, 128, 128, generator=gen).contiguous(memory_format=torch.channels_last)

    def best(dtype: torch.dtype | None) -> float:
        with (
            torch.inference_mode(),
            torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None),
        ):
            net(x)
            times = []
            for _ in range(3):
                t = time.perf_counter()
                net(x)
                times.append(time.perf_counter() - t)
        return min(times)

    return best(None) / best(torch.bfloat16)


def resolve_policy(device: str = "auto", precision: str = "auto") -> ComputePolicy:
    """Choose device, autocast dtype and memory format (see the module docstring).

    >>> resolve_policy("cpu", "fp32").describe()
    'cpu fp32 channels_last'
    """
    precision = (precision or "auto").lower()
    if precision not in PRECISIONS:
        raise ConfigError(
            f"`precision` {precision!r} is not valid",
            param="precision",
            value=precision,
            hint=f"valid: {', '.join(PRECISIONS)}",
        )
    dev = resolve_device(device)
    if dev.type == "cuda":
        if precision == "auto":
            bf16 = torch.cuda.is_bf16_supported()
            return ComputePolicy(dev, "bf16" if bf16 else "fp16", True, "CUDA autocast")
        return ComputePolicy(dev, precision, True, "requested")
    if dev.type == "mps":
        return ComputePolicy(dev, "fp32" if precision == "auto" else precision, False, "MPS")
    if precision != "auto":
        return ComputePolicy(dev, precision, True, "requested")
    if not cpu_has_bf16():
        return ComputePolicy(dev, "fp32", True, "the CPU has no native bf16")
    speedup = cpu_bf16_speedup()
    if speedup >= CPU_BF16_MIN_SPEEDUP:
        return ComputePolicy(dev, "bf16", True, f"bf16 probe {speedup:.2f}x faster than fp32")
    return ComputePolicy(dev, "fp32", True, f"bf16 probe only {speedup:.2f}x of fp32 on this CPU")


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Use ``n`` intra-op threads inside the block (None: leave torch's default)."""
    if not n:
        yield
        return
    if n < 1:
        raise ConfigError(
            f"`threads` {n} is not a number of threads",
            param="threads",
            value=n,
            hint="give a positive number",
        )
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


# ---------------------------------------------------------------------- training
#: Lightning precision names of the short forms accepted in training configs.
_LIGHTNING_PRECISION = {"32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed", "64": "64-true"}


def uses_cuda(accelerator: str) -> bool:
    """True when training with ``accelerator`` runs on CUDA (one rule for every check)."""
    return bool(torch.cuda.is_available() and str(accelerator) in ("auto", "gpu", "cuda"))


def training_precision(requested: str, accelerator: str) -> str:
    """Lightning ``precision`` of a training run: ``auto`` → bf16-mixed on GPUs with bf16.

    fp32 on CPU: a bf16-mixed training step of Unet-resnet34 (4×256²) measured 1.4× the
    fp32 time on the project's 2-core CPU (bench/bench_train.py).

    >>> training_precision("bf16", "cpu"), training_precision("32-true", "cpu")
    ('bf16-mixed', '32-true')
    """
    p = str(requested)
    if p != "auto":
        return _LIGHTNING_PRECISION.get(p, p)
    if uses_cuda(accelerator):
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def dataloader_workers(requested: int | None, cpus: int | None = None) -> int:
    """DataLoader worker processes: ``requested``, else CPU cores − 1, at most 4.

    >>> dataloader_workers(None, cpus=2), dataloader_workers(None, cpus=16), dataloader_workers(0)
    (1, 4, 0)
    """
    if requested is not None:
        return int(requested)
    return min(4, max(0, (cpus or os.cpu_count() or 1) - 1))


def training_threads(requested: int | None, workers: int, cpus: int | None = None) -> int:
    """Return the torch threads of the training process: ``requested``, else cores − workers (≥ 1).

    Oversubscribed cores make CPU training several times slower.

    >>> training_threads(None, 1, cpus=2), training_threads(3, 1, cpus=2)
    (1, 3)
    """
    if requested:
        return int(requested)
    return max(1, (cpus or os.cpu_count() or 1) - int(workers))
