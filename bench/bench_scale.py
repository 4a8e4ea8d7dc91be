"""Prediction at scale: Ray's throughput against one process, and memory against raster shape.

Two parts, each measured side by side in one run:

* ``throughput``: ``COUNT`` synthetic rasters of ``SIZE``² predicted by the real CLI
  (a fresh process each, so Ray's start-up is paid as a user pays it): plain sequential
  ``roadseg predict`` against ``--cluster local`` with 1 and with 2 workers. Prints MP/s,
  the ratio to sequential, and whether the class rasters are bitwise equal.
* ``memory``: peak RSS *increase over import* (``ru_maxrss`` after predicting minus
  ``ru_maxrss`` once roadseg, torch and the network are loaded) of ``roadseg.predict`` on
  W × H rasters 2000 × 2000, 20000 × 2000 (wide) and 2000 × 20000 (tall), a fresh
  process each, with a tiny network (the pipeline's memory is what is measured). With
  ``--strips`` the wide raster is also run with one panel as wide as the raster (the
  strip path before column panels), for contrast. ``--gdal-cache MB`` sets
  ``GDAL_CACHEMAX`` for the children (prediction's own cap,
  ``roadseg.prediction.stream.GDAL_CACHE_BYTES``, is 16 MiB: every shape fills it, so it
  costs the same on all of them; a cap larger than the 2000 x 2000 raster's ~33 MiB of
  blocks makes only the larger rasters pay for it).

  The increase includes what the first prediction in a process allocates once (torch's and
  GDAL's first-use buffers, ~50 MiB here): the same on every row, it is part of what a user's
  process pays, as the issue's "increase over import" defines it.

Run:  .venv/bin/python bench/bench_scale.py [--part all|throughput|memory]
      [--count 8] [--size 2048] [--encoder resnet18]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROADSEG = Path(sys.executable).with_name("roadseg")
SHAPES = ((2000, 2000), (20000, 2000), (2000, 20000))  # (width, height)


def make_raster(path: Path, width: int, height: int, seed: int = 0, res: float = 0.5) -> Path:
    """A synthetic 3-band uint8 tiled, compressed GeoTIFF (grid roads on noise), in strips."""
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    prof = dict(
        driver="GTiff",
        width=width,
        height=height,
        count=3,
        dtype="uint8",
        crs="EPSG:32611",
        transform=Affine(res, 0, 500_000, 0, -res, 4_000_000),
        tiled=True,
        blockxsize=256,
        blockysize=256,
        compress="deflate",
        BIGTIFF="IF_SAFER",
    )
    rng = np.random.default_rng(seed)
    with rasterio.open(path, "w", **prof) as ds:
        for r in range(0, height, 512):
            h = min(512, height - r)
            y, x = np.mgrid[r : r + h, 0:width]
            a = 120 + 60 * np.sin(x / 23.0) * np.cos(y / 31.0) + rng.normal(0, 8, (h, width))
            roads = (np.abs(((x + 37 * seed) % 400) - 200) < 4) | (np.abs((y % 333) - 150) < 3)
            a = np.where(roads, 50, a).clip(0, 255).astype(np.uint8)
            ds.write(np.stack([a, a + 5, a - 5]), window=Window(0, r, width, h))
    return path


# ---------------------------------------------------------------------------------------------
# throughput


def model_file(path: Path, encoder: str, tile: int) -> Path:
    """A Unet model file with random weights (Ray workers load model files)."""
    import torch
    from roadseg.models import ModelMeta, build_model, save_model

    torch.manual_seed(0)
    meta = ModelMeta(
        "Unet",
        encoder,
        3,
        ("background", "major", "minor"),
        ((0, 0, 0), (255, 0, 0), (255, 255, 0)),
        (0, 8, 5),
        0.5,
        tile_size=tile,
    )
    save_model(path, build_model(meta), meta)
    return path


def run_cli(args: list[str]) -> tuple[float, dict]:
    t = time.perf_counter()
    r = subprocess.run([str(ROADSEG), *args, "--json"], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode:
        sys.exit(f"roadseg {' '.join(args[:3])}... failed:\n{r.stderr[-3000:]}")
    return wall, json.loads(r.stdout.strip().splitlines()[-1])


def classes(path: Path) -> np.ndarray:
    import rasterio

    with rasterio.open(path) as ds:
        return ds.read(1)


def throughput(d: Path, count: int, size: int, encoder: str, tile: int, block: int) -> None:
    model = model_file(d / "model.safetensors", encoder, tile)
    rasters = [make_raster(d / f"r{i}.tif", size, size, seed=i) for i in range(count)]
    mp = count * size * size / 1e6
    common = ["--model", str(model), "--precision", "fp32", "--progress", "none"]
    runs = [("sequential", "seq", [])]
    for n in (1, 2):
        cl = ["--cluster", "local", "--workers", str(n), "--block-size", str(block)]
        runs.append((f"--cluster local, {n} worker{'s' * (n > 1)}", f"ray{n}", cl))
    base = None
    print(f"{count} rasters of {size}² ({mp:.1f} MP), Unet-{encoder}, tile {tile}, fp32")
    for label, out, extra in runs:
        wall, js = run_cli(["predict", *map(str, rasters), "--out", str(d / out), *common, *extra])
        rate = mp / wall
        base = base or rate
        if out == "seq":
            same = "reference"
        else:
            eq = [
                np.array_equal(
                    classes(d / out / f"{r.stem}_roads.vrt"),
                    classes(d / "seq" / f"{r.stem}_roads.tif"),
                )
                for r in rasters
            ]
            same = f"class rasters bitwise equal to sequential: {sum(eq)}/{len(eq)}"
        where = (
            js.get("blocks", {}).get("executor", "this process")
            if js.get("blocks")
            else "this process"
        )
        print(
            f"  {label:<28} {wall:7.1f} s wall  {rate:6.3f} MP/s  {rate / base:5.2f}x sequential"
            f"  ({where}; {same})",
            flush=True,
        )


# ---------------------------------------------------------------------------------------------
# memory


def child(raster: str, out: str, tile: int, panel: int | None) -> None:
    """Predict one raster; print the peak RSS increase over import (MiB) as JSON."""
    sys.path.insert(0, str(HERE))
    from bench_predict_memory import tiny_model
    from roadseg.prediction import predict, tiles2d

    net = tiny_model()
    if panel is not None:
        tiles2d.PANEL_COLUMNS = panel
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    res = predict(raster, net, out, tile=tile, precision="fp32")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "base_mib": base,
                "peak_mib": peak,
                "increase_mib": peak - base,
                "seconds": time.perf_counter() - t,
                "megapixels": res.megapixels,
            }
        )
    )


def measure(
    raster: Path, out: Path, tile: int, panel: int | None = None, cache_mb: int | None = None
) -> dict:
    cmd = [sys.executable, __file__, "--child", str(raster), str(out), "--tile", str(tile)]
    if panel is not None:
        cmd += ["--panel", str(panel)]
    env = dict(os.environ)
    if cache_mb is not None:
        env["GDAL_CACHEMAX"] = str(cache_mb * 2**20)
    r = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(r.stdout.strip().splitlines()[-1])


def memory(d: Path, tile: int, strips: bool, cache_mb: int | None) -> None:
    rows = []
    for w, h in SHAPES:
        src = make_raster(d / f"m{w}x{h}.tif", w, h)
        m = measure(src, d / f"m{w}x{h}_out.tif", tile, cache_mb=cache_mb)
        rows.append((f"{w} x {h}", m))
        if strips and w > h:
            m = measure(src, d / "strip.tif", tile, panel=w, cache_mb=cache_mb)
            rows.append((f"{w} x {h}, one strip", m))
        src.unlink()
    ref = rows[0][1]["increase_mib"]
    from roadseg.prediction.stream import GDAL_CACHE_BYTES

    default = f"GDAL cache prediction's default ({GDAL_CACHE_BYTES // 2**20} MiB)"
    cache = f"GDAL cache {cache_mb} MiB" if cache_mb else default
    print(f"peak RSS increase over import, roadseg.predict, tiny network, tile {tile}, {cache}:")
    for name, m in rows:
        print(
            f"  {name:<24} +{m['increase_mib']:7.1f} MiB (import {m['base_mib']:6.1f}, peak "
            f"{m['peak_mib']:6.1f})  {m['increase_mib'] / ref:5.2f}x 2000 x 2000  "
            f"{m['megapixels'] / m['seconds']:.2f} MP/s",
            flush=True,
        )
    worst = max(m["increase_mib"] for name, m in rows[1:] if "strip" not in name) / ref
    print(
        f"worst of wide/tall vs 2000 x 2000: {worst:.2f}x ({'OK' if worst <= 1.2 else 'FAIL'}: limit 1.2x)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["all", "throughput", "memory"], default="all")
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--encoder", default="resnet18")
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--block-size", type=int, default=2048)
    ap.add_argument("--strips", action="store_true", help="also the wide raster as one strip")
    ap.add_argument("--gdal-cache", type=int, default=None, metavar="MB", help="GDAL_CACHEMAX")
    ap.add_argument("--child", nargs=2, metavar=("RASTER", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--panel", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child[0], a.child[1], a.tile, a.panel)
        return
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory() as d:
        if a.part in ("all", "memory"):
            memory(Path(d), a.tile, a.strips, a.gdal_cache)
        if a.part in ("all", "throughput"):
            throughput(Path(d), a.count, a.size, a.encoder, a.tile, a.block_size)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
