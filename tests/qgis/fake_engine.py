"""A stand-in ``roadseg`` honouring the CLI ↔ plugin contract, for failure injection only.

It provokes what the real engine cannot be made to do on demand (a slow run to
cancel or kill, an internal crash, a failure with a given message) and records its
command lines. Every normal run in the tests uses the real engine. Behaviour is chosen
with environment variables:

* ``FAKE_ROADSEG_MODE``: ``ok`` (default), ``fail`` (exit 1 with a JSON error line),
  ``crash`` (exit 3, no JSON), ``slow`` (writes a partial file at ``--out``, then
  reports progress for ~60 s unless killed), ``hang`` (60 s without a word);
* ``FAKE_ROADSEG_LOG``: a file that gets one JSON line per invocation (argv);
* ``FAKE_ROADSEG_PID``: in ``slow`` and ``hang`` modes, a file that gets the process id.

Outputs follow the contract: a uint8 class raster (0 background, 255 nodata, tags
ROADSEG_CLASSES / ROADSEG_COLORS) on the input grid clipped to ``--bbox``, and a
GeoPackage with ``roads_<class>`` polygon layers and a ``centerlines`` layer
(class, width_m, length_m). Written with GDAL/OGR (osgeo) only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

CLASSES = ["background", "major", "minor", "track"]
COLORS = [[0, 0, 0], [230, 85, 13], [253, 174, 107], [140, 109, 49]]
WIDTHS = [0.0, 10.0, 6.0, 3.0]
MODEL = {
    "name": "default",
    "arch": "unet",
    "encoder": "fake",
    "classes": CLASSES,
    "colors": COLORS,
    "widths_m": WIDTHS,
    "gsd_m": 0.5,
    "tile_size": 256,
}


def progress(stage: str, done: int, total: int, message: str = "") -> None:
    line = {"type": "progress", "stage": stage, "done": done, "total": total, "message": message}
    sys.stderr.write(json.dumps(line) + "\n")
    sys.stderr.flush()


def fail(error: str, message: str, code: int = 1) -> None:
    sys.stderr.write(f"Error: {message}\n")
    print(json.dumps({"type": "error", "error": error, "message": message, "exit_code": code}))
    sys.exit(code)


def log_call() -> None:
    path = os.environ.get("FAKE_ROADSEG_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(sys.argv[1:]) + "\n")


def window_of(raster: str, bbox: list[float] | None, bbox_crs: str | None):
    from osgeo import gdal, osr

    gdal.UseExceptions()
    osr.UseExceptions()
    ds = gdal.Open(raster)
    if ds is None:
        fail("RasterReadError", f"cannot open {raster!r}")
    gt = ds.GetGeoTransform()
    wkt = ds.GetProjection()
    if not wkt:
        fail("CRSError", f"raster {raster!r} has no CRS; assign one")
    x0, y0 = gt[0], gt[3]
    px, py = gt[1], gt[5]
    w, h = ds.RasterXSize, ds.RasterYSize
    if bbox is None:
        return ds, 0, 0, w, h
    minx, miny, maxx, maxy = bbox
    if bbox_crs:
        src = osr.SpatialReference()
        src.SetFromUserInput(bbox_crs)
        dst = osr.SpatialReference(wkt=wkt)
        for s in (src, dst):
            s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        if not src.IsSame(dst):
            tr = osr.CoordinateTransformation(src, dst)
            minx, miny, maxx, maxy = tr.TransformBounds(minx, miny, maxx, maxy, 21)
    c0 = max(0, int((minx - x0) / px))
    c1 = min(w, int(round((maxx - x0) / px)))
    r0 = max(0, int((maxy - y0) / py))
    r1 = min(h, int(round((miny - y0) / py)))
    if c1 <= c0 or r1 <= r0:
        fail("ConfigError", "--bbox does not overlap the raster; choose an area over the imagery")
    return ds, c0, r0, c1 - c0, r1 - r0


def write_outputs(args: argparse.Namespace) -> dict:
    from osgeo import gdal, ogr, osr

    ds, c0, r0, w, h = window_of(args.raster, args.bbox, args.bbox_crs)
    gt = list(ds.GetGeoTransform())
    gt[0] += c0 * gt[1]
    gt[3] += r0 * gt[5]
    # Class raster: a horizontal major road and a vertical minor road crossing mid-way.
    rows = []
    for r in range(h):
        row = bytearray(w)
        if abs(r - h // 2) <= max(1, h // 16):
            row[:] = b"\x01" * w
        for c in range(w):
            if abs(c - w // 2) <= max(1, w // 24) and row[c] == 0:
                row[c] = 2
        rows.append(bytes(row))
    drv = gdal.GetDriverByName("GTiff")
    tmp = args.out + ".part"
    out = drv.Create(tmp, w, h, 1, gdal.GDT_Byte)
    out.SetGeoTransform(gt)
    out.SetProjection(ds.GetProjection())
    band = out.GetRasterBand(1)
    band.SetNoDataValue(255)
    ct = gdal.ColorTable()
    for i, rgb in enumerate(COLORS):
        ct.SetColorEntry(i, (*rgb, 255))
    band.SetRasterColorTable(ct)
    band.WriteRaster(0, 0, w, h, b"".join(rows))
    out.SetMetadata(
        {
            "ROADSEG_CLASSES": json.dumps(CLASSES),
            "ROADSEG_COLORS": json.dumps(COLORS),
            "ROADSEG_WIDTHS_M": json.dumps(WIDTHS),
        }
    )
    out = None
    os.replace(tmp, args.out)
    progress("predict", 4, 4, "tiles")
    result = {"outputs": {"raster": args.out}, "metrics": {"megapixels": w * h / 1e6}}
    if args.vectorize:
        minx, maxy = gt[0], gt[3]
        maxx, miny = minx + w * gt[1], maxy + h * gt[5]
        midy, midx = (miny + maxy) / 2, (minx + maxx) / 2
        hw = (maxy - miny) / 16
        vw = (maxx - minx) / 24
        srs = osr.SpatialReference(wkt=ds.GetProjection())
        tmpv = args.vectorize + ".part.gpkg"
        gds = ogr.GetDriverByName("GPKG").CreateDataSource(tmpv)

        def layer(name, geom_type, features):
            lyr = gds.CreateLayer(name, srs, geom_type)
            for fname, ftype in (
                ("class", ogr.OFTString),
                ("class_id", ogr.OFTInteger),
                ("width_m", ogr.OFTReal),
                ("length_m", ogr.OFTReal),
            ):
                lyr.CreateField(ogr.FieldDefn(fname, ftype))
            for cls, wkt, length in features:
                f = ogr.Feature(lyr.GetLayerDefn())
                f.SetField("class", cls)
                f.SetField("class_id", CLASSES.index(cls))
                f.SetField("width_m", WIDTHS[CLASSES.index(cls)])
                f.SetField("length_m", length)
                f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
                lyr.CreateFeature(f)

        def box(a, b, c, d):
            return f"POLYGON(({a} {b},{c} {b},{c} {d},{a} {d},{a} {b}))"

        layer("roads_major", ogr.wkbPolygon, [("major", box(minx, midy - hw, maxx, midy + hw), 0)])
        layer("roads_minor", ogr.wkbPolygon, [("minor", box(midx - vw, miny, midx + vw, maxy), 0)])
        layer("roads_track", ogr.wkbPolygon, [])
        layer(
            "centerlines",
            ogr.wkbLineString,
            [
                ("major", f"LINESTRING({minx} {midy},{maxx} {midy})", maxx - minx),
                ("minor", f"LINESTRING({midx} {miny},{midx} {maxy})", maxy - miny),
            ],
        )
        gds = None
        os.replace(tmpv, args.vectorize)
        progress("vectorize", 1, 1, "centrelines")
        result["outputs"]["vectors"] = args.vectorize
        result["layers"] = {"classes": CLASSES, "colors": COLORS, "widths_m": WIDTHS}
    return result


def main() -> None:
    log_call()
    argv = sys.argv[1:]
    if argv[:1] == ["--version"]:
        print("roadseg, version 0.1.0")
        return
    p = argparse.ArgumentParser(prog="roadseg")
    sub = p.add_subparsers(dest="cmd")
    pr = sub.add_parser("predict")
    pr.add_argument("raster")
    pr.add_argument("--out", required=True)
    pr.add_argument("--vectorize")
    pr.add_argument("--bbox", nargs=4, type=float)
    pr.add_argument("--bbox-crs")
    pr.add_argument("--extent-file")
    pr.add_argument("--model")
    pr.add_argument("--device")
    pr.add_argument("--tile", type=int)
    pr.add_argument("--overlap", type=int)
    pr.add_argument("--batch-size", type=int)
    pr.add_argument("--overwrite", action="store_true")
    for sp in (pr,):
        sp.add_argument("--progress", default="bar")
        sp.add_argument("--json", action="store_true")
    ve = sub.add_parser("vectorize")
    ve.add_argument("raster")
    ve.add_argument("--out", required=True)
    ve.add_argument("--overwrite", action="store_true")
    ve.add_argument("--progress", default="bar")
    ve.add_argument("--json", action="store_true")
    tr = sub.add_parser("train")
    tr.add_argument("--image", required=True)
    tr.add_argument("--labels", required=True)
    tr.add_argument("--out", required=True)
    tr.add_argument("--class-field")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--accelerator")
    tr.add_argument("--config")
    tr.add_argument("--tile", type=int)
    tr.add_argument("--batch-size", type=int)
    tr.add_argument("--samples-per-epoch", type=int)
    tr.add_argument("--init-from")
    tr.add_argument("--progress", default="bar")
    tr.add_argument("--json", action="store_true")
    mo = sub.add_parser("models")
    mo.add_argument("file", nargs="?")
    mo.add_argument("--info")
    mo.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    mode = os.environ.get("FAKE_ROADSEG_MODE", "ok")
    if getattr(args, "extent_file", None) and os.environ.get("FAKE_ROADSEG_LOG"):
        with (
            open(args.extent_file, encoding="utf-8") as src,
            open(os.environ["FAKE_ROADSEG_LOG"], "a") as log,
        ):
            log.write(json.dumps(["extent-file-content", src.read()]) + "\n")

    if args.cmd == "models":
        args.file = args.file or args.info
        if args.file == "default":
            print(json.dumps(MODEL))
            return
        if args.file:
            if not open(args.file, "rb").read(8).startswith(b"FAKEMODL"):
                fail(
                    "ModelFileError",
                    f"{args.file!r} is not a roadseg model file; "
                    "give a file written by `roadseg train`",
                )
            print(
                json.dumps(
                    {"models": [dict(MODEL, name=os.path.basename(args.file), path=args.file)]}
                )
            )
        else:
            print(json.dumps({"models": [MODEL]}))
        return
    progress("setup", 0, 1, "loading the model")
    if mode == "fail":
        fail(
            "ModelFileError",
            "the model file 'broken.safetensors' is damaged; "
            "give a file written by `roadseg train`",
        )
    if mode == "crash":
        sys.stderr.write("Traceback (most recent call last):\n  boom\nRuntimeError: fake crash\n")
        sys.exit(3)
    if (
        args.cmd == "predict"
        and args.model
        and not open(args.model, "rb").read(8).startswith(b"FAKEMODL")
    ):
        fail(
            "ModelFileError",
            f"{args.model!r} is not a roadseg model file; give a file written by `roadseg train`",
        )
    pid_file = os.environ.get("FAKE_ROADSEG_PID")
    if pid_file and mode in ("slow", "hang"):
        with open(pid_file, "w", encoding="utf-8") as f:
            f.write(str(os.getpid()))
    if mode == "hang":  # a long silent step (a big batch): no output that could hit a closed pipe
        time.sleep(60)
        fail("CancelledError", "should have been stopped")
    if mode == "slow":
        out = getattr(args, "out", None)
        if out:
            with open(out, "wb") as f:  # a half-written output, as a careless engine would leave
                f.write(b"partial")
        for i in range(600):
            progress("predict", i, 600, "tile")
            time.sleep(0.1)
        fail("CancelledError", "should have been cancelled")
    if args.cmd == "predict":
        result = write_outputs(args)
    elif args.cmd == "vectorize":
        ns = argparse.Namespace(
            raster=args.raster,
            bbox=None,
            bbox_crs=None,
            out=args.out + ".classes.tif",
            vectorize=args.out,
        )
        result = write_outputs(ns)
        os.remove(ns.out)
        result["outputs"].pop("raster", None)
    elif args.cmd == "train":
        os.makedirs(args.out, exist_ok=True)
        for e in range(2):
            progress("train", e + 1, 2, f"epoch {e + 1}")
        model = os.path.join(args.out, "model.safetensors")
        with open(model, "wb") as f:
            f.write(b"FAKEMODL")
        result = {"model": model, "outputs": {"model": model}, "metrics": {"val_iou": 0.5}}
    else:
        p.error("no command")
        return
    print("some log line on stdout")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
