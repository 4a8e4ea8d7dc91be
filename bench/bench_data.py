"""Training data pipeline throughput: roadseg's streaming windows vs a naive per-sample vector read.

One run, one synthetic tiled GeoTIFF (default 2048², 3-band uint8, 0.5 m, UTM)
with a GeoPackage of a few hundred road centrelines in three classes, 256²
windows, batches of 8. Side by side, in the same process and conditions:

* **roadseg**: ``Scene`` + ``WindowPlan`` + ``TrainWindows`` (vectors read,
  reprojected and buffered once, STRtree per window; road-biased draws 0.5;
  the raster opened once per worker), without augmentation;
* **naive**: the same windows and the same raster reads, but the labels are read
  from the GeoPackage for every sample (``geopandas.read_file(bbox=...)``),
  buffered and rasterised — what TorchGeo's ``VectorDataset`` does per query.

Both run through a ``torch.utils.data.DataLoader`` with 0 and 2 workers (the
main process with one torch thread). Printed: samples/s and per-sample
milliseconds of imagery and labels, and the speed-up ratios. Numbers vary
with machine load: compare ratios measured in one run.

Run:  .venv/bin/python bench/bench_data.py [--size 2048] [--samples 160] [--workers 0 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "engine"))

WIDTHS = {"major": 12.0, "minor": 7.0, "track": 4.0}


def make_data(folder: Path, size: int, px: float = 0.5, seed: int = 0) -> tuple[Path, Path]:
    """A tiled GeoTIFF and a GeoPackage of a jittered road grid (three classes)."""
    import geopandas as gpd
    import rasterio
    import shapely
    from affine import Affine
    from rasterio.features import rasterize

    rng = np.random.default_rng(seed)
    x0, y0 = 500_000.0, 4_000_000.0
    t = Affine(px, 0, x0, 0, -px, y0)
    ext = size * px
    lines, cls = [], []
    spacing = 40.0  # metres between parallel roads
    for k, pos in enumerate(np.arange(spacing / 2, ext, spacing)):
        for horizontal in (True, False):
            # roads cut into segments of 60-200 m, as street centrelines are
            s = 0.0
            while s < ext:
                e = min(ext, s + rng.uniform(60, 200))
                jit = rng.normal(0, 2, 2)
                if horizontal:
                    pts = [(x0 + s, y0 - pos + jit[0]), (x0 + e, y0 - pos + jit[1])]
                else:
                    pts = [(x0 + pos + jit[0], y0 - s), (x0 + pos + jit[1], y0 - e)]
                lines.append(shapely.LineString(pts))
                cls.append(("major", "minor", "minor", "track")[(k + int(horizontal)) % 4])
                s = e
    gpkg = folder / "roads.gpkg"
    gdf = gpd.GeoDataFrame({"road_class": cls}, geometry=lines, crs="EPSG:32611")
    gdf.to_file(gpkg, driver="GPKG")
    tif = folder / "image.tif"
    profile = dict(
        driver="GTiff",
        width=size,
        height=size,
        count=3,
        dtype="uint8",
        crs="EPSG:32611",
        transform=t,
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
    )
    with rasterio.open(tif, "w", **profile) as ds:
        for r0 in range(0, size, 512):
            h = min(512, size - r0)
            win_t = t * Affine.translation(0, r0)
            surf = [
                (ln.buffer(WIDTHS[c] / 2, cap_style="flat"), 1)
                for ln, c in zip(lines, cls, strict=True)
            ]
            m = rasterize(surf, out_shape=(h, size), transform=win_t)
            block = rng.normal(90, 12, (3, h, size)).clip(0, 255)
            block[:, m > 0] = 190
            ds.write(block.astype(np.uint8), window=rasterio.windows.Window(0, r0, size, h))
    return tif, gpkg


class NaiveWindows:
    """The same windows, labels re-read from the vector file for every sample."""

    def __init__(self, train_windows, gpkg: Path) -> None:
        self.inner = train_windows
        self.gpkg = gpkg

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, key: int):
        import geopandas as gpd
        import shapely
        import torch
        from rasterio.features import rasterize
        from rasterio.windows import Window

        s, x, y = self.inner.window(key)
        scene = self.inner.scenes[s]
        tile = self.inner.plan.tile
        g = scene.grid.window_grid(Window(x, y, tile, tile))
        win = scene.raster.read_grid(g, "bilinear")
        pad = max(WIDTHS.values())
        x0, y0, x1, y1 = g.bounds
        bbox = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        gdf = gpd.read_file(self.gpkg, bbox=bbox, engine="pyogrio")
        mask = np.zeros(g.shape, dtype=np.uint8)
        if len(gdf):
            ids = gdf["road_class"].map({"major": 1, "minor": 2, "track": 3}).to_numpy()
            w = np.array([WIDTHS[c] for c in gdf["road_class"]])
            geoms = shapely.buffer(gdf.geometry.values, w / 2, cap_style="flat")
            order = np.argsort(-ids)
            rasterize(
                zip(geoms[order], ids[order], strict=True),
                out_shape=g.shape,
                transform=g.transform,
                out=mask,
            )
        mask[~win.valid] = 255
        return {"image": torch.from_numpy(win.data), "mask": torch.from_numpy(mask), "key": key}


def throughput(ds, n: int, workers: int, batch: int = 8) -> float:
    import torch
    from roadseg.data import WindowSampler
    from roadseg.data.sampler import worker_init
    from torch.utils.data import DataLoader

    sampler = WindowSampler(n)
    dl = DataLoader(
        ds,
        batch_size=batch,
        sampler=sampler,
        num_workers=workers,
        worker_init_fn=worker_init if workers else None,
        persistent_workers=False,
    )
    t0 = time.perf_counter()
    seen = 0
    for b in dl:
        seen += b["image"].shape[0]
        torch.as_tensor(b["mask"]).sum()
    return seen / (time.perf_counter() - t0)


def per_sample_ms(ds, keys) -> tuple[float, float]:
    """Milliseconds per sample of imagery and of labels (single process)."""
    from rasterio.windows import Window

    tr, tl = 0.0, 0.0
    for k in keys:
        s, x, y = ds.inner.window(k) if hasattr(ds, "inner") else ds.window(k)
        scene = (ds.inner if hasattr(ds, "inner") else ds).scenes[s]
        tile = (ds.inner if hasattr(ds, "inner") else ds).plan.tile
        g = scene.grid.window_grid(Window(x, y, tile, tile))
        t0 = time.perf_counter()
        scene.raster.read_grid(g, "bilinear")
        t1 = time.perf_counter()
        if hasattr(ds, "inner"):
            t1b = time.perf_counter()
            ds[k]  # whole naive sample, imagery included: subtract imagery below
            tl += (time.perf_counter() - t1b) - (t1 - t0)
        else:
            scene.labels.rasterize(g)
            tl += time.perf_counter() - t1
        tr += t1 - t0
    return 1000 * tr / len(keys), 1000 * tl / len(keys)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--samples", type=int, default=160)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = ap.parse_args()

    import torch
    from roadseg.data import Scene, TrainWindows, WindowPlan, split_scene
    from roadseg.geo.classes import ClassScheme
    from roadseg.geo.labels import VectorLabels
    from roadseg.geo.raster import open_raster

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        tif, gpkg = make_data(Path(tmp), args.size)
        print(
            f"data: {args.size}² raster, {gpkg.stat().st_size / 1e6:.1f} MB GeoPackage "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        t0 = time.perf_counter()
        src = open_raster(tif)
        labels = VectorLabels(gpkg, ClassScheme.preset("synth"), src.grid)
        scene = Scene(src, labels, 0.5)
        blocks = split_scene(
            scene.width, scene.height, args.tile, "split", 0.2, "checkerboard", 0, 0
        )
        plan = WindowPlan([blocks], [scene.road_points(args.tile / 4, 200_000)], args.tile, 0.5)
        setup_s = time.perf_counter() - t0
        print(
            f"roadseg set-up (read {len(labels.lines)} features once, buffer, index, road points): "
            f"{setup_s:.2f} s"
        )
        ours = TrainWindows([scene], plan, args.samples, seed=0)
        naive = NaiveWindows(ours, gpkg)
        keys = list(range(10_000, 10_000 + 40))
        o_img, o_lab = per_sample_ms(ours, keys)
        n_img, n_lab = per_sample_ms(naive, keys)
        print(
            f"per sample (1 process): imagery {o_img:.1f} ms; labels roadseg {o_lab:.1f} ms "
            f"vs naive {n_lab:.1f} ms "
            f"({n_lab / o_lab:.1f}x)"
        )
        results = {
            "setup_s": round(setup_s, 2),
            "ms_imagery": round(o_img, 2),
            "ms_labels_roadseg": round(o_lab, 2),
            "ms_labels_naive": round(n_lab, 2),
        }
        for w in args.workers:
            a = throughput(ours, args.samples, w)
            b = throughput(naive, args.samples, w)
            print(
                f"workers={w}: roadseg {a:.1f} samples/s, naive {b:.1f} samples/s, "
                f"ratio {a / b:.2f}x"
            )
            results[f"workers{w}"] = {
                "roadseg": round(a, 1),
                "naive": round(b, 1),
                "ratio": round(a / b, 2),
            }
        print(json.dumps(results))


if __name__ == "__main__":
    main()
