"""Benchmark: the centreline network before and after cleaning, scored against true roads.

For each scene the class raster is vectorised twice, side by side in one run —
``--no-cleaning`` (traced, pruned, bridged) and the default cleaning (:data:`CLEANING`:
small loops of a split road collapsed, edge whiskers dropped; carriageways kept) — or
another cleaning given with ``--after`` — and each network is scored against
the truth: APLS as CosmiQ computes it (and its two directions), TOPO F1, length
error, loops under 600 m² and 400 m², stubs under 10 m (all, and touching the
raster's edge).

Scenes:

* ``vegas``: SpaceNet Las Vegas img0 (``../shared/data/real``) predicted with the
  model (``--model``, default: the embedded one), the bottom 100 px logo banner cut
  off with ``--bbox``; truth ``roads.geojson``.
* ``synth-S``: ``roadseg synth`` scenes (``--seeds``, ``--size``), predicted with the
  same model; truth ``roads.gpkg`` (exact).
* ``mass-T``: Massachusetts Roads hold-out tiles (``../shared/data/real``; the default
  model's 10 held-out tiles, every 6th by name; ``--mass-tiles N`` of them), written as
  GeoTIFFs at 1 m in a metric CRS and predicted with the model; truth = the centrelines
  the vectoriser traces on the label mask (OpenStreetMap centrelines rasterised about 7 px
  wide; the white no-data fill is nodata in the truth, and the prediction's fill rule
  makes it nodata there too). Real New England streets: leaf-on trees over roads, the
  network's gaps.
* ``dubai-I``: the default model's held-out Dubai images (Humans in the Loop, Tiles 5
  and 6; ``--dubai-images N`` of them), written as GeoTIFFs at the 1.5 m the model was
  trained with, in a metric CRS, and predicted with the model; truth = the centrelines the
  vectoriser traces on the road-surface mask (its grey "unlabelled" colour is nodata). A
  desert city: wide paved roads, sand tracks, roundabouts. Seven of the 18 have no traced
  truth network (APLS 0 whatever the variant): compare variants, not levels.
* ``drawn-S``: the same scenes' true roads rasterised with their widths (no model;
  roads ending on the raster's edge carried past it, as the picture shows them): the
  vectoriser's own ceiling on a perfect class raster. ``--only drawn`` runs just these
  (no model, no Vegas: about 40 s for six 768² seeds).

The truth is noded on a 1 mm grid (:data:`TRUTH_GRID_M`).

It runs whatever model is embedded, so rerun it after the model changes::

    .venv/bin/python bench/bench_network.py                       # vegas + 3 seeds
    .venv/bin/python bench/bench_network.py --seeds 1 2 3 4 5 --size 1024 --json out.json
    .venv/bin/python bench/bench_network.py --after "--loop-width 15 --carriageways merge"
    .venv/bin/python bench/bench_network.py --only mass dubai --after "--road-bridge 0" --after "--bridge 30"
    .venv/bin/python bench/bench_network.py --only drawn --seeds 1 2 3 4 5 6 --size 768
    .venv/bin/python bench/bench_network.py --only vegas mass --road-threshold 0.61  # another threshold
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from roadseg.evaluation.apls_cosmiq import apls_cosmiq
from roadseg.evaluation.cosmiq_graph import build_road_graph, line_parts
from roadseg.evaluation.network_stats import network_stats
from roadseg.evaluation.topo import topo
from roadseg.geo.grid import utm_crs_for

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / ".." / "shared" / "data" / "real"
VEGAS = REAL / "spacenet_vegas_img0"
MASS = REAL / "massachusetts"
DUBAI = REAL / "dubai_hitl"
#: Dubai images are written at 1.5 m (the resolution the default model was trained with:
#: the set's own is undocumented) in UTM 40N; the origin is arbitrary.
DUBAI_CRS = "EPSG:32640"
DUBAI_GSD = 1.5
DUBAI_ROAD = (110, 193, 228)
DUBAI_UNLABELLED = (155, 155, 155)
#: Massachusetts tiles are written at 1 m in Massachusetts State Plane (metres); the
#: origin is arbitrary (the tiles carry no georeferencing).
MASS_CRS = "EPSG:26986"
MASS_GSD = 1.0
BANNER_PX = 100
#: The vectorisations compared on each scene: (label, vectorize flags). "before" is without
#: cleaning, "after" the defaults; each ``--after`` adds another (after, after2, ...).
VARIANTS: list[tuple[str, list[str]]] = [("before", ["--no-cleaning"]), ("after", [])]
#: Grid the truth is noded on (metres).
TRUTH_GRID_M = 0.001
#: Scene kinds (``--only``).
KINDS = ("vegas", "mass", "dubai", "synth", "drawn")


def roadseg_cli(*args: str) -> None:
    """Run the real CLI (the engine of this checkout)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "engine"))
    cmd = [sys.executable, "-m", "roadseg.cli.main", *args, "--progress", "none"]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)


def metric_lines(gdf: gpd.GeoDataFrame, crs: object) -> np.ndarray:
    """Lines of a layer in a metric CRS."""
    return np.asarray(gdf.to_crs(crs).geometry.values, dtype=object)


def score(lines: np.ndarray, truth: np.ndarray, bounds: tuple[float, ...]) -> dict[str, float]:
    """Score one network (metric lines) against the truth (metric lines, noded)."""
    t = build_road_graph(line_parts(truth), 5.0)
    p = build_road_graph(line_parts(lines), 5.0)
    a = apls_cosmiq(t, p)
    st = network_stats(lines, bounds)
    true_km = t.total_length() / 1e3
    return {
        "apls": round(a.apls, 4),
        "t2p": round(a.truth_to_pred, 4),
        "p2t": round(a.pred_to_truth, 4),
        "topo_f1": round(topo(t, p).f1, 4),
        "km": round(st.km, 3),
        "length_err": round(st.km / true_km - 1.0, 4) if true_km else float("nan"),
        "loops_lt600": st.loops_small,
        "loops_lt400": st.loops_tiny,
        "stubs_lt10": st.stubs,
        "edge_stubs_lt10": st.edge_stubs,
    }


def run_scene(name: str, classes: Path, truth: gpd.GeoDataFrame, work: Path) -> dict:
    """Vectorise ``classes`` once per variant (:data:`VARIANTS`) and score each."""
    with rasterio.open(classes) as src:
        b, crs = src.bounds, src.crs
    metric = crs if crs.is_projected else _utm(b, crs)
    box = gpd.GeoSeries([shapely.box(*b)], crs=crs).to_crs(metric).iloc[0]
    # Truth clipped to the raster in the raster's CRS (as `roadseg evaluate` does), then
    # projected: the metric bounding box of a geographic raster reaches up to 7 m past it
    # (Vegas img0), where no prediction can be, and every truth road there scored a miss.
    t = shapely.clip_by_rect(np.asarray(truth.to_crs(crs).geometry.values, dtype=object), *b)
    t = metric_lines(gpd.GeoDataFrame(geometry=t[~shapely.is_empty(t)], crs=crs), metric)
    # Noded on a 1 mm grid: the synthetic truth has roads ending on a crossing 1e-10 m
    # off it, which an exact noding leaves as a separate dead end on top of the crossing
    # (two truth control points on one spot: CosmiQ's renaming drops one, 0.03 of T→P).
    t = shapely.get_parts(shapely.union_all(t, grid_size=TRUTH_GRID_M))
    out = {"scene": name}
    for mode, flags in VARIANTS:
        gpkg = work / f"{name}_{mode}.gpkg"
        t0 = time.perf_counter()
        roadseg_cli("vectorize", str(classes), "--out", str(gpkg), *flags)
        lines = gpd.read_file(gpkg, layer="centerlines")
        out[mode] = score(metric_lines(lines, metric), t, box.bounds)
        out[mode]["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def _utm(b: object, crs: object) -> object:
    from rasterio.warp import transform

    xs, ys = transform(crs, "EPSG:4326", [(b.left + b.right) / 2], [(b.bottom + b.top) / 2])
    return utm_crs_for(xs[0], ys[0])


#: Extra ``roadseg predict`` flags for every prediction (``--road-threshold P`` sets them).
PREDICT_FLAGS: list[str] = []


def vegas(work: Path, model: str) -> dict | None:
    """SpaceNet Vegas img0, banner cut off, predicted with ``model``."""
    if not (VEGAS / "image.tif").exists():
        print(f"skipping vegas: {VEGAS} not found")
        return None
    with rasterio.open(VEGAS / "image.tif") as src:
        t, w, h = src.transform, src.width, src.height
    bbox = [t.c, t.f + (h - BANNER_PX) * t.e, t.c + w * t.a, t.f]
    pred = work / "vegas.tif"
    roadseg_cli("predict", str(VEGAS / "image.tif"), "--model", model, *PREDICT_FLAGS, "--out", str(pred),
                "--bbox", *map(str, bbox))  # fmt: skip
    return run_scene("vegas", pred, gpd.read_file(VEGAS / "roads.geojson"), work)


def massachusetts(work: Path, model: str, count: int) -> list[dict]:
    """The default model's held-out Massachusetts tiles (the first ``count``), predicted."""
    if not (MASS / "images").is_dir():
        print(f"skipping mass: {MASS} not found")
        return []
    names = sorted(p.stem for p in (MASS / "images").glob("*.jpg"))[::6][:count]
    rows = []
    for n in names:
        image, truth = work / f"mass{n}.tif", work / f"mass{n}_truth.tif"
        mass_tile(n, image, truth)
        rows.append(traced_truth_scene(f"mass-{n}", image, truth, model, work))
    return rows


def traced_truth_scene(name: str, image: Path, truth: Path, model: str, work: Path) -> dict:
    """Predict ``image``; score its network against the centrelines traced on ``truth``."""
    true_lines = work / f"{name}_truth.gpkg"
    roadseg_cli("vectorize", str(truth), "--out", str(true_lines))
    pred = work / f"{name}_pred.tif"
    roadseg_cli("predict", str(image), "--model", model, *PREDICT_FLAGS, "--out", str(pred))
    return run_scene(name, pred, gpd.read_file(true_lines, layer="centerlines"), work)


def dubai(work: Path, model: str, count: int) -> list[dict]:
    """The default model's held-out Dubai images (Tiles 5 and 6; the first ``count``)."""
    found = (p for t in ("Tile 5", "Tile 6") for p in (DUBAI / t / "images").glob("*.jpg"))
    images = sorted(found)[:count]
    if not images:
        print(f"skipping dubai: no images in {DUBAI}")
        return []
    rows = []
    for path in images:
        name = f"{path.parent.parent.name.split()[-1]}-{path.stem.rsplit('_', 1)[-1]}"
        image, truth = work / f"dubai{name}.tif", work / f"dubai{name}_truth.tif"
        dubai_image(path, image, truth)
        rows.append(traced_truth_scene(f"dubai-{name}", image, truth, model, work))
    return rows


def dubai_image(path: Path, image: Path, truth: Path) -> None:
    """A Dubai image and its road mask as GeoTIFFs at 1.5 m (road: minor; unlabelled: nodata)."""
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1)
    mask = np.asarray(Image.open(path.parent.parent / "masks" / f"{path.stem}.png").convert("RGB"))
    road = (mask == np.array(DUBAI_ROAD, np.uint8)).all(-1)
    unlabelled = (mask == np.array(DUBAI_UNLABELLED, np.uint8)).all(-1)
    classes = np.where(unlabelled, 255, np.where(road, 2, 0)).astype(np.uint8)
    write_pair(rgb, classes, image, truth, DUBAI_CRS, DUBAI_GSD)


def write_pair(
    rgb: np.ndarray, classes: np.ndarray, image: Path, truth: Path, crs: str, gsd: float
) -> None:
    """An RGB image and its class raster (roadseg's default classes, 255 nodata) on one grid."""
    from rasterio.transform import from_origin

    h, w = classes.shape
    grid = dict(driver="GTiff", width=w, height=h, crs=crs,
                transform=from_origin(200_000.0, 900_000.0, gsd, gsd))  # fmt: skip
    with rasterio.open(image, "w", count=3, dtype="uint8", **grid) as dst:
        dst.write(rgb[:3])
    with rasterio.open(truth, "w", count=1, dtype="uint8", nodata=255, **grid) as dst:
        dst.write(classes, 1)
        dst.update_tags(
            ROADSEG_CLASSES=json.dumps(["background", "major", "minor", "track"]),
            ROADSEG_WIDTHS_M=json.dumps([0.0, 12.0, 7.0, 4.0]),
        )


def mass_tile(name: str, image: Path, truth: Path) -> None:
    """A Massachusetts tile and its label as GeoTIFFs at 1 m (label: minor road, 255 nodata)."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(MASS / "images" / f"{name}.jpg") as src:
            rgb = src.read()
        with rasterio.open(MASS / "masks" / f"{name}.png") as src:
            label = src.read(1)
    classes = np.where(label == 255, 255, np.where(label > 0, 2, 0)).astype(np.uint8)
    write_pair(rgb, classes, image, truth, MASS_CRS, MASS_GSD)


def synthetic(
    work: Path, model: str, seed: int, size: int, style: str, kinds: tuple[str, ...]
) -> list[dict]:
    """A ``roadseg synth`` scene: predicted with ``model``, and its truth drawn as a raster.

    ``kinds`` says which of the two to score (``synth``, ``drawn``); without ``synth`` no
    model runs.
    """
    scene = work / f"scene{seed}"
    roadseg_cli("synth", str(scene), "--size", str(size), "--seed", str(seed), "--style", style)
    truth = gpd.read_file(scene / "roads.gpkg")
    rows = []
    if "synth" in kinds:
        pred = work / f"synth{seed}.tif"
        roadseg_cli(
            "predict",
            str(scene / "image.tif"),
            "--model",
            model,
            *PREDICT_FLAGS,
            "--out",
            str(pred),
        )
        rows.append(run_scene(f"synth-{seed}", pred, truth, work))
    if "drawn" in kinds:
        drawn = work / f"drawn{seed}.tif"
        draw(truth, scene / "image.tif", drawn)
        rows.append(run_scene(f"drawn-{seed}", drawn, truth, work))
    return rows


def draw(truth: gpd.GeoDataFrame, image: Path, out: Path) -> None:
    """Rasterise true roads with their widths into a tagged class raster (synth classes)."""
    from rasterio.features import rasterize

    ids = {"major": 1, "minor": 2, "track": 3}
    with rasterio.open(image) as src:
        prof = dict(driver="GTiff", width=src.width, height=src.height, count=1, dtype="uint8",
                    crs=src.crs, transform=src.transform, nodata=255)  # fmt: skip
        bounds = tuple(src.bounds)
    t = truth.to_crs(prof["crs"])
    shapes = sorted(
        ((past_edge(g, bounds, w).buffer(w / 2.0, cap_style="flat"), ids[c]) for g, w, c in
         zip(t.geometry, t["width_m"], t["road_class"], strict=True)),
        key=lambda s: -s[1],
    )  # fmt: skip
    arr = rasterize(shapes, out_shape=(prof["height"], prof["width"]),
                    transform=prof["transform"], dtype=np.uint8)  # fmt: skip
    with rasterio.open(out, "w", **prof) as dst:
        dst.write(arr, 1)
        dst.update_tags(
            ROADSEG_CLASSES=json.dumps(["background", "major", "minor", "track"]),
            ROADSEG_WIDTHS_M=json.dumps([0.0, 12.0, 7.0, 4.0]),
        )


def past_edge(line: object, bounds: tuple[float, ...], by: float) -> object:
    """``line`` with each end on the raster's edge carried three times ``by`` (metres) further out.

    The synthetic truth is clipped at the raster's edge; drawn with flat caps there, a road
    crossing the edge at an angle would stop with a cap across it, half a road width short
    of the edge on one side: a road leaving the picture is cut by the edge, not capped.
    """
    c = shapely.get_coordinates(line)
    if len(c) < 2 or shapely.get_type_id(line) != 1:
        return line
    x0, y0, x1, y1 = bounds
    eps = 1e-6
    for end, prev in ((0, 1), (-1, -2)):
        x, y = c[end]
        if min(abs(x - x0), abs(x - x1), abs(y - y0), abs(y - y1)) > eps:
            continue
        d = c[end] - c[prev]
        n = float(np.hypot(*d))
        if n > 0:
            c[end] = c[end] + d / n * 3.0 * by
    return shapely.LineString(c)


def main() -> None:
    """Run the benchmark and print a table (and JSON with --json)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--style", default="urban")
    ap.add_argument("--no-vegas", action="store_true")
    ap.add_argument(
        "--only",
        nargs="+",
        choices=KINDS,
        default=list(KINDS),
        help="scene kinds to run (e.g. '--only drawn': the vectoriser alone, no model, seconds)",
    )
    ap.add_argument("--mass-tiles", type=int, default=10, help="held-out Massachusetts tiles")
    ap.add_argument("--dubai-images", type=int, default=18, help="held-out Dubai images")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--road-threshold",
        type=float,
        default=None,
        help="predict with this road threshold instead of the model's (roadseg predict's flag)",
    )
    ap.add_argument(
        "--after",
        action="append",
        default=[],
        help="vectorize flags of 'after' (default: none); repeat to compare several",
    )
    args = ap.parse_args()
    if args.road_threshold is not None:
        PREDICT_FLAGS[:] = ["--road-threshold", str(args.road_threshold)]
    if args.after:
        VARIANTS[1:] = [
            (f"after{i + 1 if i else ''}", shlex.split(a)) for i, a in enumerate(args.after)
        ]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.no_vegas and "vegas" in args.only:
            v = vegas(work, args.model)
            if v:
                rows.append(v)
        if "mass" in args.only:
            rows += massachusetts(work, args.model, args.mass_tiles)
        if "dubai" in args.only:
            rows += dubai(work, args.model, args.dubai_images)
        kinds = tuple(k for k in ("synth", "drawn") if k in args.only)
        for s in args.seeds:
            if kinds:
                rows += synthetic(work, args.model, s, args.size, args.style, kinds)
    cols = ("apls", "t2p", "p2t", "topo_f1", "length_err", "loops_lt600", "loops_lt400",
            "stubs_lt10", "edge_stubs_lt10")  # fmt: skip
    shown = f"{args.model} {' '.join(PREDICT_FLAGS)}".strip()
    print(f"model {shown}; {platform.node()}; load {os.getloadavg()[0]:.2f}")
    for mode, flags in VARIANTS:
        print(f"  {mode} = {' '.join(flags) or 'the defaults'}")
    print(f"{'scene':<14} {'':<7}" + "".join(f"{c:>16}" for c in cols))
    modes = [m for m, _ in VARIANTS]
    for r in rows:
        for mode in modes:
            print(f"{r['scene']:<14} {mode:<7}" + "".join(f"{r[mode][c]:>16}" for c in cols))
    for kind in KINDS:
        sel = [r for r in rows if r["scene"].startswith(kind)]
        if not sel:
            continue
        b = np.mean([r["before"]["apls"] for r in sel])
        for mode in modes[1:]:
            a = np.mean([r[mode]["apls"] for r in sel])
            worse = sum(r[mode]["apls"] < r["before"]["apls"] for r in sel)
            print(f"{kind}: mean APLS before {b:.3f} → {mode} {a:.3f} ({mode}/before "
                  f"{a / b:.3f}); lower than before on {worse}/{len(sel)}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
