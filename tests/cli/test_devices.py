"""`roadseg devices`: what the engine can run on, as the plugin's device list reads it."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import torch
from click.testing import CliRunner
from roadseg.cli.main import cli
from roadseg.device import CpuInfo, list_devices, resolve_policy


def _json(*args: str, env: dict[str, str] | None = None) -> dict:
    r = CliRunner(mix_stderr=False).invoke(cli, ["devices", "--json", *args], obj={}, env=env)
    assert r.exit_code == 0, r.stderr
    out: dict = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def test_cpu_listed_with_the_rule_s_precision_and_auto_marked():
    out = _json()
    cpu = next(d for d in out["devices"] if d["name"] == "cpu")
    assert cpu["precision"] == resolve_policy("cpu").precision
    assert cpu["cores"] >= 1 and "cores)" in cpu["label"]
    assert [d["name"] for d in out["devices"] if d["auto"]] == [out["auto"]]
    assert out["count"] == len(out["devices"])


def test_precision_environment_variable_shown_with_its_reason():
    out = _json(env={"ROADSEG_PRECISION": "fp16"})
    cpu = next(d for d in out["devices"] if d["name"] == "cpu")
    assert (cpu["precision"], cpu["reason"]) == ("fp16", "set by ROADSEG_PRECISION")


def test_bad_precision_variable_is_one_line_error_naming_it():
    r = subprocess.run(
        [sys.executable, "-m", "roadseg.cli.main", "devices"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "ROADSEG_PRECISION": "fast"},
    )
    assert r.returncode != 0
    assert "ROADSEG_PRECISION" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_precision_by_cpu_features():
    amd = CpuInfo("AuthenticAMD", frozenset({"avx512_bf16"}), "AMD EPYC")
    intel = CpuInfo("GenuineIntel", frozenset({"avx512_bf16"}), "Intel Xeon")
    assert list_devices(amd)[0]["precision"] == "bf16"
    assert list_devices(intel)[0]["precision"] == "fp32"
    assert list_devices(intel)[0]["label"].startswith("CPU (Intel Xeon, ")


def test_gpus_listed_with_memory(monkeypatch):
    """Failure injection: no GPU here, so torch's CUDA queries answer for two GPUs."""
    props = SimpleNamespace(name="NVIDIA H200", total_memory=141 * 2**30)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: props)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    out = _json()
    gpus = [d for d in out["devices"] if d["kind"] == "cuda"]
    assert [g["name"] for g in gpus] == ["cuda:0", "cuda:1"]
    assert gpus[0]["memory_gib"] == 141.0 and gpus[0]["precision"] == "bf16"
    assert out["auto"] == "cuda:0"


def test_text_output_marks_auto():
    r = CliRunner(mix_stderr=False).invoke(cli, ["devices"], obj={})
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("cpu ") and "← auto" in r.stdout
