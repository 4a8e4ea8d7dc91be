"""Joining a Ray cluster that is already running (``ray start --head``), as users with a
cluster do: by the head's address and through Ray Client, with Ray's token authentication on.

The head runs in its own session and is killed with it at the end. For a head that checks
tokens the driver is given the token only as ``RAY_AUTH_TOKEN`` (no ``RAY_AUTH_MODE``), as on a
machine of a cluster whose token was shared: roadseg must send it, else Ray's join times out.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from predict_helpers import last_json, write_scene
from test_cluster import SMALL, classes, kill_session, run_cli

pytest.importorskip("ray", reason="Ray is an optional extra: pip install roadseg[ray]")

RAY = Path(sys.executable).with_name("ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 180.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"ray start exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(1.0)
    raise AssertionError(f"nothing listens on port {port} after {timeout:.0f} s")


@pytest.mark.slow
@pytest.mark.parametrize("head_auth", ["token", "disabled"])
def test_joining_a_running_cluster_by_address_and_through_ray_client(
    model_file, tmp_path, head_auth
):
    """A head that checks tokens, joined with the token in RAY_AUTH_TOKEN; one that does not,
    joined with no token (``~/.ray/auth_token`` may exist: local clusters write it)."""
    raster = write_scene(tmp_path / "r.tif", 256, 512, seed=3)
    seq = run_cli("predict", raster, "--model", model_file, "--out", tmp_path / "seq", *SMALL)
    assert seq.returncode == 0, seq.stderr[-3000:]

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    token = {"RAY_AUTH_TOKEN": secrets.token_hex(32)} if head_auth == "token" else {}
    env |= token
    gcs, client = free_port(), free_port()
    temp = tempfile.mkdtemp(prefix="rs-ray-", dir="/tmp")  # Ray's socket paths must be short
    head = subprocess.Popen(
        [
            str(RAY),
            "start",
            "--head",
            "--block",
            "--port",
            str(gcs),
            "--ray-client-server-port",
            str(client),
            "--num-cpus",
            "2",
            "--include-dashboard",
            "false",
            "--disable-usage-stats",
            "--temp-dir",
            temp,
        ],
        env=env | {"RAY_AUTH_MODE": head_auth},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(gcs, head)
        wait_for_port(client, head)
        for name, address in (("gcs", f"127.0.0.1:{gcs}"), ("client", f"ray://127.0.0.1:{client}")):
            r = run_cli(
                "predict",
                raster,
                "--model",
                model_file,
                "--out",
                tmp_path / name,
                "--cluster",
                address,
                "--block-size",
                "256",
                "--json",
                *SMALL,
                env=env,
            )
            assert r.returncode == 0, (name, r.stderr[-3000:])
            d = last_json(r.stdout)
            assert d["blocks"]["run"] == d["blocks"]["total"] == 2
            assert address in d["blocks"]["executor"]
            assert np.array_equal(
                classes(tmp_path / name / "r_roads.vrt"), classes(tmp_path / "seq" / "r_roads.tif")
            )
    finally:
        kill_session(head.pid)
        shutil.rmtree(temp, ignore_errors=True)
