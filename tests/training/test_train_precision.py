"""Training precision ``auto``: the prediction rule from the CPU's features, never a race."""

from __future__ import annotations

import pytest
from roadseg.device import CpuInfo, resolve_policy, training_precision

AMD = CpuInfo("AuthenticAMD", frozenset({"avx512_bf16", "avx512f"}))
INTEL_NO_AMX = CpuInfo("GenuineIntel", frozenset({"avx512_bf16", "avx512f"}))
INTEL_AMX = CpuInfo("GenuineIntel", frozenset({"avx512_bf16", "amx_bf16"}))
OLD = CpuInfo("GenuineIntel", frozenset({"avx2"}))


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("ROADSEG_PRECISION", raising=False)


@pytest.mark.parametrize(
    ("cpu", "want"),
    [(AMD, "bf16-mixed"), (INTEL_AMX, "bf16-mixed"), (INTEL_NO_AMX, "32-true"), (OLD, "32-true")],
)
def test_auto_on_cpu_follows_the_prediction_rule(cpu, want):
    assert training_precision("auto", "cpu", cpu) == want
    # the same choice as prediction makes on that CPU
    bf16 = resolve_policy("cpu", "auto", cpu=cpu).precision == "bf16"
    assert (want == "bf16-mixed") == bf16


def test_the_environment_variable_replaces_the_rule(monkeypatch):
    monkeypatch.setenv("ROADSEG_PRECISION", "fp32")
    assert training_precision("auto", "cpu", AMD) == "32-true"
    monkeypatch.setenv("ROADSEG_PRECISION", "bf16")
    assert training_precision("auto", "cpu", INTEL_NO_AMX) == "bf16-mixed"


def test_a_requested_precision_is_kept():
    assert training_precision("32", "cpu", AMD) == "32-true"
    assert training_precision("bf16", "cpu", INTEL_NO_AMX) == "bf16-mixed"
    assert training_precision("bf16-mixed", "cpu", OLD) == "bf16-mixed"
