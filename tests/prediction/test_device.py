"""Device auto-selection and the precision policy."""

from __future__ import annotations

import pytest
import torch
from roadseg.device import (
    PRECISION_ENV,
    ComputePolicy,
    CpuInfo,
    cpu_precision,
    resolve_device,
    resolve_policy,
    torch_threads,
)
from roadseg.errors import ConfigError


def test_auto_and_cpu_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if (
        not torch.cuda.is_available()
        and getattr(torch.backends, "mps", None)
        and torch.backends.mps.is_available()
    ):
        expected = "mps"
    assert resolve_device("auto").type == expected


@pytest.mark.parametrize(
    "name,match", [("tpu", "valid: auto, cpu"), ("cuda:x", "cuda"), ("cuda:99", "cuda")]
)
def test_bad_devices_are_refused_with_the_choices(name, match):
    if name.startswith("cuda") and torch.cuda.is_available() and name == "cuda:x":
        pytest.skip("CUDA present")
    with pytest.raises(ConfigError, match=match):
        resolve_device(name)


AMD = "AuthenticAMD"
INTEL = "GenuineIntel"


@pytest.mark.parametrize(
    "vendor,flags,expected",
    [
        (AMD, {"avx2", "avx512f", "avx512_bf16"}, "bf16"),  # EPYC: bf16 ~2x fp32
        (INTEL, {"avx2", "avx512f", "avx512_bf16"}, "fp32"),  # Xeon without AMX: bf16 slower
        (INTEL, {"avx512_bf16", "amx_bf16", "amx_tile"}, "bf16"),  # Sapphire Rapids: AMX
        (AMD, {"avx2"}, "fp32"),
        (INTEL, {"avx2"}, "fp32"),
        ("", set(), "fp32"),  # unknown CPU (no /proc/cpuinfo)
    ],
)
def test_cpu_precision_rule_from_flags(vendor, flags, expected):
    cpu = CpuInfo(vendor, frozenset(flags))
    assert cpu_precision(cpu)[0] == expected
    p = resolve_policy("cpu", "auto", cpu=cpu)
    assert (p.precision, p.channels_last) == (expected, True) and p.reason
    assert resolve_policy("cpu", "fp32", cpu=cpu).precision == "fp32"  # forced wins


def test_cpuinfo_parsing():
    text = (
        "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 avx512_bf16\n\n"
        "processor\t: 1\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 avx512_bf16\n"
    )
    cpu = CpuInfo.parse(text)
    assert cpu.vendor == AMD and {"avx2", "avx512_bf16"} <= cpu.flags


def test_precision_policy_on_cpu(monkeypatch):
    monkeypatch.delenv(PRECISION_ENV, raising=False)
    p = resolve_policy("cpu", "fp32")
    assert p == ComputePolicy(torch.device("cpu"), "fp32", True, "requested")
    # No timing: the same answer every time, on every call.
    assert len({resolve_policy("cpu", "auto") for _ in range(3)}) == 1
    with pytest.raises(ConfigError, match="valid: auto, fp32, bf16, fp16"):
        resolve_policy("cpu", "int8")


def test_environment_variable_overrides_the_rule(monkeypatch):
    amd = CpuInfo(AMD, frozenset({"avx512_bf16"}))
    monkeypatch.setenv(PRECISION_ENV, "fp32")
    p = resolve_policy("cpu", "auto", cpu=amd)
    assert p.precision == "fp32" and PRECISION_ENV in p.reason
    assert resolve_policy("cpu", "bf16", cpu=amd).precision == "bf16"  # an explicit value wins
    monkeypatch.setenv(PRECISION_ENV, "int4")
    with pytest.raises(ConfigError, match=PRECISION_ENV) as info:
        resolve_policy("cpu", "auto", cpu=amd)
    assert info.value.param == "precision"


def test_bf16_autocast_runs_on_cpu():
    p = resolve_policy("cpu", "bf16")
    conv = torch.nn.Conv2d(3, 4, 3).to(memory_format=p.memory_format)
    with torch.inference_mode(), p.autocast():
        y = conv(torch.rand(1, 3, 8, 8).contiguous(memory_format=p.memory_format))
    assert y.dtype == torch.bfloat16


def test_threads_are_restored():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
