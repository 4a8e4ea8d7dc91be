"""The main job: map the roads of a raster with the embedded default model.

Run by `make demo` (after set-up). With no raster it makes a synthetic 2048²
scene first (`roadseg synth`), then predicts with the default model, vectorises
the result into out/roads.gpkg (polygons per class + centrelines), draws
out/preview.png (imagery with the road layers) and prints a summary: km of road
per class and megapixels per second. Nothing is downloaded at any step.

    python scripts/demo.py [--raster IMAGE.tif] [--model FILE] [--out out] [--overwrite]

Outputs already in the folder are never replaced without ``--overwrite`` (``make demo``
gives it: the folder ``out/`` is the demo's own, and a second run replaces its files).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

#: The engine's parameter names as this script's flags (its error messages name them).
DEMO_FLAGS = {
    "overwrite": "--overwrite",
    "out": "--out",
    "out_dir": "--out",
    "vectorize": "--out",
    "model": "--model",
    "rasters": "--raster",
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raster", help="your own raster (default: a synthetic scene made now)")
    ap.add_argument("--model", default="default", help="model file (default: the embedded model)")
    ap.add_argument("--out", default="out", help="output folder (default: out)")
    ap.add_argument("--size", type=int, default=2048, help="size of the synthetic scene in pixels")
    ap.add_argument("--seed", type=int, default=2024, help="seed of the synthetic scene")
    ap.add_argument(
        "--overwrite", action="store_true", help="replace the outputs of an earlier run in --out"
    )
    args = ap.parse_args(argv)

    from roadseg.cli.options import ProgressRenderer
    from roadseg.errors import ModelFileError, RoadsegError

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(
            f"Error: --out {str(out)!r} cannot be a folder ({exc.strerror or exc}); "
            "give a folder (it is made when missing)",
            file=sys.stderr,
        )
        return 2
    progress = ProgressRenderer("bar")
    try:
        if args.raster:
            raster = Path(args.raster)
            print(f"demo: mapping roads in {raster}")
        else:
            from roadseg.synth import make_scene

            t0 = time.perf_counter()
            scene = make_scene(
                out / "scene",
                size=args.size,
                seed=args.seed,
                crs="EPSG:32611",
                gsd=0.5,
                overwrite=args.overwrite,
            )
            raster = Path(scene.image)
            print(
                f"demo: made a synthetic {args.size}² scene at 0.5 m in {time.perf_counter() - t0:.1f} s: {raster}"
            )

        from roadseg.models import read_meta

        try:
            meta = read_meta(args.model)
        except ModelFileError as exc:
            print(f"demo: cannot predict yet: {exc}", file=sys.stderr)
            return 2
        from roadseg.prediction import predict
        from roadseg.preview import render_preview

        t0 = time.perf_counter()
        res = predict(
            raster,
            model=args.model,
            out=out / "roads.tif",
            vectorize=out / "roads.gpkg",
            overwrite=args.overwrite,
            progress=progress,
        )
        progress.close()
        seconds = time.perf_counter() - t0
        d = res.as_dict()
        colors = dict(zip(meta.classes, meta.colors, strict=True))
        render_preview(
            raster,
            out / "roads.gpkg",
            out / "preview.png",
            colors=colors,
            title=f"roadseg default model on {raster.name}",
        )
    except RoadsegError as exc:
        print(f"Error: {exc.render(DEMO_FLAGS.get)}", file=sys.stderr)
        return 1

    metrics = d.get("metrics", {})
    print()
    print(f"class raster : {out / 'roads.tif'}")
    print(f"road layers  : {out / 'roads.gpkg'}")
    print(f"preview      : {out / 'preview.png'}")
    print(
        f"model        : {args.model} ({meta.arch}/{meta.encoder}, {meta.gsd_m} m/px, "
        f"classes {', '.join(meta.classes[1:])})"
    )
    sure = res.items[0].confidence
    if sure is not None:
        print(f"confidence   : {sure.text()}")
    per_class = metrics.get("km_per_class") or {}
    for name, km in per_class.items():
        print(f"  {name:<8} {km:8.2f} km of centreline")
    mp = res.megapixels
    print(
        f"throughput   : {mp:.1f} MP in {seconds:.1f} s end to end = {mp / seconds:.2f} MP/s "
        f"(predict alone {metrics.get('mp_per_s', float('nan')):.2f} MP/s on {res.device}, {res.precision})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
