"""What the undeclared-fill rule costs: ``roadseg.predict`` with and without it, side by side.

One raster (bench_scale's synthetic road image, 0.5 m, 3 bands, uint8, no nodata declared;
its right quarter padded with white like a Massachusetts tile), one model (the embedded default
unless ``--model``), runs alternated ``--repeat`` times in one process after a warm-up:
``detect_fill=True`` (the default) against ``detect_fill=False``. Prints each run's wall
time, the medians and their ratio (target: ≤ 1.05), and the nodata share of each output.

    .venv/bin/python bench/bench_fill.py [--size 1536] [--repeat 3] [--model default]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "engine"))
sys.path.insert(0, str(ROOT / "bench"))


def make_raster(path: Path, size: int) -> Path:
    """bench_scale's synthetic raster (no nodata declared) with its right quarter white."""
    import rasterio
    from bench_scale import make_raster as synthetic

    synthetic(path, size, size)
    with rasterio.open(path, "r+") as ds:
        img = ds.read()
        img[:, :, size * 3 // 4 :] = 255
        ds.write(img)
    return path


def nodata_share(path: Path) -> float:
    import rasterio

    with rasterio.open(path) as ds:
        return float((ds.read(1) == 255).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1536)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", default="default")
    args = ap.parse_args()

    from roadseg.models import load_model
    from roadseg.prediction import predict

    model = load_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        src = make_raster(Path(tmp) / "padded.tif", args.size)
        predict(src, model, Path(tmp) / "warm.tif", overwrite=True)
        times: dict[bool, list[float]] = {True: [], False: []}
        for i in range(args.repeat):
            for on in (True, False) if i % 2 == 0 else (False, True):
                t0 = time.perf_counter()
                predict(src, model, Path(tmp) / f"o{int(on)}.tif", detect_fill=on, overwrite=True)
                times[on].append(time.perf_counter() - t0)
                print(f"run {i + 1} detect_fill={on}: {times[on][-1]:.2f} s", flush=True)
        on, off = statistics.median(times[True]), statistics.median(times[False])
        mp = args.size**2 / 1e6
        print(
            f"\n{args.size}² ({mp:.2f} MP), model {args.model}: median with the fill rule "
            f"{on:.2f} s, without {off:.2f} s, ratio {on / off:.3f} (target <= 1.05); nodata "
            f"{nodata_share(Path(tmp) / 'o1.tif'):.1%} with, "
            f"{nodata_share(Path(tmp) / 'o0.tif'):.1%} without"
        )


if __name__ == "__main__":
    main()
