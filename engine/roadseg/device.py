"""Device selection and the precision / memory-format policy, for prediction and training.

``auto`` picks CUDA, else Apple MPS, else the CPU. Precision ``auto`` follows a
fixed rule from what the hardware is, never from a timing race at start-up, so
the same raster, model, options and machine give the same bytes every run:

* CUDA: bf16 autocast where the GPU supports bf16, else fp16; channels_last.
* CPU with AMX (``amx_bf16`` in the CPU flags): bf16 autocast + channels_last.
* AMD CPU (vendor ``AuthenticAMD``) with ``avx512_bf16``: bf16 autocast +
  channels_last. Measured on an AMD EPYC (2 cores): Unet-resnet34 forward on
  4×3×512² fp32 0.8 MP/s, fp32 channels_last 1.2, bf16 channels_last 2.6 MP/s.
* Intel CPU with ``avx512_bf16`` but no AMX: fp32 + channels_last. Measured on an
  Intel Xeon (AVX10.1, no AMX), Unet-resnet34 on 2×3×512²: fp32 0.58 MP/s, fp32
  channels_last 0.78, bf16 channels_last 0.65 (bf16 slower than fp32).
* Any other CPU: fp32 + channels_last.
* MPS: fp32, contiguous (autocast support on MPS varies between torch versions).

A ``precision`` other than ``auto`` is used as given. Otherwise the environment
variable ``ROADSEG_PRECISION`` (``fp32``, ``bf16`` or ``fp16``), when set, replaces
the rule (e.g. on a machine whose measurements differ). Training follows the same
rule (bf16-mixed where prediction would use bf16, else fp32): one optimisation step
of Unet on 4×3×256² measured 1.41× (EfficientNet-Lite0) and 1.79× (resnet34) faster in
bf16-mixed than fp32 on the AMD EPYC, and 1.4× slower (resnet34) on the Intel Xeon
without AMX (``bench/bench_train.py``); on CUDA it uses the same bf16/fp16 choice.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch

from roadseg.errors import ConfigError

Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


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
        if ":" in name:
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


@dataclass(frozen=True)
class CpuInfo:
    """What the precision rule needs to know about a CPU.

    Attributes:
        vendor: ``vendor_id`` from ``/proc/cpuinfo`` (``AuthenticAMD``, ``GenuineIntel``...).
        flags: The CPU's feature flags.
        model: The ``model name`` line (for people; the rule does not read it).

    """

    vendor: str = ""
    flags: frozenset[str] = frozenset()
    model: str = ""

    @classmethod
    def parse(cls, text: str) -> CpuInfo:
        """Read the first processor's vendor and flags from ``/proc/cpuinfo`` text.

        >>> CpuInfo.parse("vendor_id : AuthenticAMD; flags : fpu".replace("; ", chr(10))).vendor
        'AuthenticAMD'
        """
        vendor, flags, model = "", frozenset[str](), ""
        for line in text.splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "vendor_id" and not vendor:
                vendor = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = frozenset(value.split())
            elif key == "model name" and not model:
                model = value.strip()
        return cls(vendor, flags, model)


@functools.cache
def this_cpu() -> CpuInfo:
    """The CPU of this machine (read once per process)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return CpuInfo.parse(f.read())
    except OSError:
        return CpuInfo()


def cpu_precision(cpu: CpuInfo) -> tuple[str, str]:
    """The CPU rule of the module docstring: (precision, reason).

    >>> cpu_precision(CpuInfo("AuthenticAMD", frozenset({"avx512_bf16"})))[0]
    'bf16'
    >>> cpu_precision(CpuInfo("GenuineIntel", frozenset({"avx512_bf16"})))[0]
    'fp32'
    >>> cpu_precision(CpuInfo("GenuineIntel", frozenset({"avx512_bf16", "amx_bf16"})))[0]
    'bf16'
    """
    if "amx_bf16" in cpu.flags:
        return "bf16", "the CPU has AMX (bf16 matrix units)"
    if "avx512_bf16" in cpu.flags and cpu.vendor == "AuthenticAMD":
        return "bf16", "AMD CPU with avx512_bf16 (bf16 measured ~2x faster than fp32)"
    if "avx512_bf16" in cpu.flags:
        return "fp32", "avx512_bf16 without AMX (bf16 measured slower than fp32)"
    return "fp32", "the CPU has no fast bf16"


#: Environment variable that replaces the automatic precision rule.
PRECISION_ENV = "ROADSEG_PRECISION"


def _env_precision() -> str | None:
    v = os.environ.get(PRECISION_ENV, "").strip().lower()
    if not v or v == "auto":
        return None
    if v not in PRECISIONS:
        raise ConfigError(
            f"the environment variable {PRECISION_ENV}={v!r} is not a precision",
            param="precision",
            value=v,
            hint=f"set it to one of {', '.join(PRECISIONS)} or unset it",
        )
    return v


def resolve_policy(
    device: str = "auto", precision: str = "auto", cpu: CpuInfo | None = None
) -> ComputePolicy:
    """Choose device, autocast dtype and memory format (see the module docstring).

    Args:
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        precision: ``auto`` (the rule), ``fp32``, ``bf16`` or ``fp16``.
        cpu: The CPU the rule looks at (default: this machine's).

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
            env = _env_precision()
            if env is not None:
                return ComputePolicy(dev, env, True, f"set by {PRECISION_ENV}")
            bf16 = torch.cuda.is_bf16_supported()
            return ComputePolicy(dev, "bf16" if bf16 else "fp16", True, "CUDA autocast")
        return ComputePolicy(dev, precision, True, "requested")
    if dev.type == "mps":
        return ComputePolicy(dev, "fp32" if precision == "auto" else precision, False, "MPS")
    if precision != "auto":
        return ComputePolicy(dev, precision, True, "requested")
    env = _env_precision()
    if env is not None:
        return ComputePolicy(dev, env, True, f"set by {PRECISION_ENV}")
    chosen, reason = cpu_precision(cpu or this_cpu())
    return ComputePolicy(dev, chosen, True, reason)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def list_devices(cpu: CpuInfo | None = None) -> list[dict[str, Any]]:
    """The devices this engine can run on, each with the precision ``auto`` would use there.

    One entry per device: ``name`` (what ``device`` accepts), ``kind`` (cpu, cuda, mps),
    ``label`` (for people), ``precision`` and ``channels_last`` (the policy ``auto``
    precision gives on it), ``reason`` (why), ``memory_gib`` (GPUs; None on the CPU and
    MPS), ``cores`` (the CPU's usable cores) and ``auto`` (True for the device
    ``device="auto"`` picks). ``ROADSEG_PRECISION`` is honoured as in :func:`resolve_policy`.

    >>> [d["name"] for d in list_devices() if d["kind"] == "cpu"]
    ['cpu']
    """
    auto = str(resolve_device("auto"))
    c = cpu or this_cpu()
    pol = resolve_policy("cpu", "auto", cpu=c)
    out: list[dict[str, Any]] = [
        {
            "name": "cpu",
            "kind": "cpu",
            "label": f"CPU ({c.model or c.vendor or 'unknown model'}, {_cpu_count()} cores)",
            "precision": pol.precision,
            "channels_last": pol.channels_last,
            "reason": pol.reason,
            "memory_gib": None,
            "cores": _cpu_count(),
            "auto": auto == "cpu",
        }
    ]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            pol = resolve_policy(f"cuda:{i}", "auto")
            out.append(
                {
                    "name": f"cuda:{i}",
                    "kind": "cuda",
                    "label": f"GPU {i}: {props.name}",
                    "precision": pol.precision,
                    "channels_last": pol.channels_last,
                    "reason": pol.reason,
                    "memory_gib": round(props.total_memory / 2**30, 1),
                    "cores": None,
                    "auto": auto in ("cuda", f"cuda:{i}") and i == 0,
                }
            )
    if _mps_available():
        pol = resolve_policy("mps", "auto")
        out.append(
            {
                "name": "mps",
                "kind": "mps",
                "label": "Apple GPU (MPS)",
                "precision": pol.precision,
                "channels_last": pol.channels_last,
                "reason": pol.reason,
                "memory_gib": None,
                "cores": None,
                "auto": auto == "mps",
            }
        )
    return out


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


def training_precision(requested: str, accelerator: str, cpu: CpuInfo | None = None) -> str:
    """Lightning ``precision`` of a training run; ``auto`` follows the prediction rule.

    On a GPU: bf16-mixed where it supports bf16, else 16-mixed. On the CPU: bf16-mixed where
    :func:`resolve_policy` would predict in bf16 (AMX, or an AMD CPU with avx512_bf16; or
    ``ROADSEG_PRECISION=bf16``), else fp32 — from the CPU's features, never a timing race,
    so a run and its resume on one machine use the same precision. ``cpu``: the CPU the
    rule looks at (default: this machine's).

    >>> training_precision("bf16", "cpu"), training_precision("32-true", "cpu")
    ('bf16-mixed', '32-true')
    >>> training_precision("auto", "cpu", CpuInfo("GenuineIntel", frozenset({"avx512_bf16"})))
    '32-true'
    """
    p = str(requested)
    if p != "auto":
        return _LIGHTNING_PRECISION.get(p, p)
    if uses_cuda(accelerator):
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    chosen = resolve_policy("cpu", "auto", cpu=cpu).precision
    return "bf16-mixed" if chosen == "bf16" else "32-true"


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
