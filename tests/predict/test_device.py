"""Device auto-selection and the precision policy."""

from __future__ import annotations

import pytest
import torch
from roadseg.device import (
    ComputePolicy,
    cpu_has_bf16,
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


def test_precision_policy_on_cpu():
    p = resolve_policy("cpu", "fp32")
    assert p == ComputePolicy(torch.device("cpu"), "fp32", True, "requested")
    auto = resolve_policy("cpu", "auto")
    assert auto.channels_last and auto.precision in ("fp32", "bf16")
    if not cpu_has_bf16():
        assert auto.precision == "fp32"
    assert auto.reason  # says why (probe result or missing CPU support)
    with pytest.raises(ConfigError, match="valid: auto, fp32, bf16, fp16"):
        resolve_policy("cpu", "int8")


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
