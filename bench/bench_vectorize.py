"""Benchmark: vectorisation time per km² and per megapixel on synthetic class rasters.

The class raster is drawn from the road layout of a synthetic scene
(``roadseg.synth.build_scene``: the same roads ``roadseg synth`` renders, without
rendering the image): each centreline buffered by its width, rasterised at the
chosen ground resolution into a tagged class GeoTIFF (UTM 11N). Then
``roadseg.vectorization.vectorize`` runs on it (GeoPackage + GraphML written) and
its wall and process CPU time are reported with the per-step timings (the
CPU time is the steadier figure on a shared machine: the work is single-threaded).

Usage::

    .venv/bin/python bench/bench_vectorize.py                 # 2048 and 8192 px at 0.5 m
    .venv/bin/python bench/bench_vectorize.py --sizes 1024 4096 --gsd 0.3 --seed 3
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.features import rasterize
from roadseg.geo.classes import ClassScheme


def draw_class_raster(path: Path, size: int, gsd: float, seed: int, style: str) -> dict:
    """Rasterise a synthetic scene's roads (class ids of the synth scheme) into a GeoTIFF."""
    from roadseg.synth import build_scene

    scheme = ClassScheme.preset("synth")
    layout, st = build_scene(size, seed, gsd, style)
    shapes = []
    km = 0.0
    for road in layout.roads:
        cid = scheme.values[road.road_class]
        shapes.append((road.line.buffer(road.width_m / 2.0, cap_style="flat"), cid))
        km += road.line.length / 1e3
    shapes.sort(key=lambda s: -s[1])  # major roads drawn last (on top)
    arr = rasterize(
        shapes, out_shape=(size, size), transform=Affine(gsd, 0, 0, 0, gsd, 0), dtype=np.uint8
    )
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=size,
        height=size,
        count=1,
        dtype="uint8",
        nodata=255,
        crs="EPSG:32611",
        transform=Affine(gsd, 0, 500_000.0, 0, -gsd, 4_000_000.0),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
    ) as ds:
        ds.write(arr, 1)
        ds.update_tags(
            ROADSEG_CLASSES=json.dumps(list(scheme.names)),
            ROADSEG_COLORS=json.dumps([list(c) for c in scheme.colors]),
            ROADSEG_WIDTHS_M=json.dumps(list(scheme.widths_m)),
        )
    return {
        "layout": st.layout,
        "roads": len(layout.roads),
        "layout_km": round(km, 2),
        "road_fraction": round(float((arr > 0).mean()), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes", type=int, nargs="+", default=[2048, 8192], help="raster sizes in pixels"
    )
    ap.add_argument("--gsd", type=float, default=0.5, help="metres per pixel")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--style", default="suburban", help="synth style (random, urban, suburban, rural)"
    )
    ap.add_argument("--block-size", type=int, default=4096)
    args = ap.parse_args()

    from roadseg.vectorization import vectorize

    print(
        f"# bench_vectorize  {platform.processor() or platform.machine()}  "
        f"gsd {args.gsd} m  seed {args.seed}  style {args.style}  block {args.block_size}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for size in args.sizes:
            src = d / f"classes_{size}.tif"
            info = draw_class_raster(src, size, args.gsd, args.seed, args.style)
            t0, c0 = time.perf_counter(), time.process_time()
            res = vectorize(
                src,
                d / f"roads_{size}.gpkg",
                graphml=d / f"roads_{size}.graphml",
                block_size=args.block_size,
            )
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            mp, km2 = res.megapixels, res.raster_km2
            steps = ", ".join(f"{k} {v:.2f}" for k, v in res.timings.items())
            print(
                f"size {size} px ({mp:.1f} MP, {km2:.2f} km², {info['layout']}, roads "
                f"{info['road_fraction']:.1%} of pixels, {res.centerline_km:.2f} km of centreline, "
                f"{res.edges} edges, {res.components} piece(s))\n"
                f"  wall {wall:.2f} s = {wall / mp:.3f} s/MP = {wall / km2:.2f} s/km²\n"
                f"  cpu  {cpu:.2f} s = {cpu / mp:.3f} s/MP = {cpu / km2:.2f} s/km² "
                f"(process CPU time: the figure to compare on a shared machine)\n"
                f"  steps (wall s): {steps}",
                flush=True,
            )


if __name__ == "__main__":
    main()
