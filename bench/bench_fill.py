"""What the undeclared-fill rule costs, and what skipping tiles of fill saves: side by side.

One raster (bench_scale's synthetic road image, 0.5 m, 3 bands, uint8, no nodata declared;
its right quarter padded with white like a Massachusetts tile), one model (the embedded default
unless ``--model``), runs alternated ``--repeat`` times in one process after a warm-up, in
three modes: the rule with the network skipped on tiles made only of fill (the default), the
rule running every tile (``stream.SKIP_FILL_TILES = False``), and no rule
(``detect_fill=False``). Prints each run's wall time and tiles run, the medians, their ratios
to "no rule" (targets: the rule alone ≤ 1.05; with the skip < 1), and the nodata share.

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
    from roadseg.prediction import predict, stream

    model = load_model(args.model)
    modes = {"rule + skip": (True, True), "rule, no skip": (True, False), "no rule": (False, True)}
    with tempfile.TemporaryDirectory() as tmp:
        src = make_raster(Path(tmp) / "padded.tif", args.size)
        predict(src, model, Path(tmp) / "warm.tif", overwrite=True)
        times: dict[str, list[float]] = {m: [] for m in modes}
        tiles: dict[str, int] = {}
        order = list(modes)
        for i in range(args.repeat):
            for name in order if i % 2 == 0 else order[::-1]:
                detect, skip = modes[name]
                stream.SKIP_FILL_TILES = skip
                out = Path(tmp) / f"{order.index(name)}.tif"
                t0 = time.perf_counter()
                r = predict(src, model, out, detect_fill=detect, overwrite=True)
                times[name].append(time.perf_counter() - t0)
                tiles[name] = r.items[0].tiles_run
                print(
                    f"run {i + 1} {name}: {times[name][-1]:.2f} s, {tiles[name]} tiles", flush=True
                )
        stream.SKIP_FILL_TILES = True
        med = {m: statistics.median(t) for m, t in times.items()}
        mp = args.size**2 / 1e6
        print(f"\n{args.size}² ({mp:.2f} MP), model {args.model}, medians of {args.repeat}:")
        for name in order:
            print(
                f"  {name:14s} {med[name]:6.2f} s  {tiles[name]:4d} tiles  ratio to no rule "
                f"{med[name] / med['no rule']:.3f}  nodata "
                f"{nodata_share(Path(tmp) / f'{order.index(name)}.tif'):.1%}"
            )
        print("targets: rule, no skip <= 1.05; rule + skip < 1")


if __name__ == "__main__":
    main()
