"""Run CosmiQ's own APLS/TOPO code on the shared SpaceNet sample (how the test figures were made).

``tests/evaluation/test_apls_cosmiq.py`` pins what CosmiQ's ``apls`` 0.1.0 (the PyPI release of
github.com/CosmiQ/apls; its ``apls.py`` is the repository's last one) computes on
``../shared/data/real/spacenet_vegas_img0`` with its README's command 1 (``gt_json_prop_wkt``).
That code was written for Python 3.6, networkx 2.3 and geopandas 0.4; this script runs it in a
scratch environment with a few compatibility patches that do not change what it computes (listed
in :func:`patch`; GDAL is replaced by rasterio for the one geotransform it reads). Never in the
project's venv::

    python3 -m venv /tmp/aplsref
    /tmp/aplsref/bin/pip install networkx==2.3 numpy==1.26.4 pandas==1.5.3 geopandas==0.14.4 \\
        shapely==2.0.6 scipy==1.11.4 fiona==1.9.6 utm==0.7.0 matplotlib==3.8.4 \\
        rasterio==1.3.10 pyproj==3.6.1 affine
    /tmp/aplsref/bin/pip install --no-deps apls==0.1.0   # it pins GDAL 2.4, not needed here
    /tmp/aplsref/bin/python scripts/cosmiq_reference.py  # 80 s on 2 busy cores

It prints APLS both ways for CosmiQ's command-line settings and for roadseg's defaults, and TOPO
with every truth node once as origin (the expectation of CosmiQ's random draw), with the spread
of its random draw.
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
import tempfile
import types
from pathlib import Path

TILE = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real" / "spacenet_vegas_img0"
)


def patch() -> None:
    """Let apls 0.1.0 import and run on current libraries (behaviour unchanged)."""
    import fractions

    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import pyproj
    import rasterio
    import shapely.affinity  # noqa: F401  (apls_utils uses shapely.affinity after `import shapely`)

    fractions.gcd = math.gcd  # type: ignore[attr-defined]  # networkx 2.3 imports it
    for name, typ in (("int", int), ("float", float), ("bool", bool), ("object", object)):
        setattr(np, name, typ)
    # geopandas 0.4: dict-like CRS, DataFrame.append, a CRS set before the geometry column.
    pyproj.CRS.__contains__ = lambda self, k: k in self.to_dict()  # type: ignore[method-assign]
    pyproj.CRS.__getitem__ = lambda self, k: self.to_dict()[k]  # type: ignore[method-assign]

    def append(self: gpd.GeoDataFrame, row: dict, ignore_index: bool = False) -> gpd.GeoDataFrame:
        df = pd.concat([pd.DataFrame(self), pd.DataFrame([row])], ignore_index=ignore_index)
        return gpd.GeoDataFrame(df, geometry="geometry")

    gpd.GeoDataFrame.append = append  # type: ignore[attr-defined]
    setattr_, setitem, drop = (
        gpd.GeoDataFrame.__setattr__,
        gpd.GeoDataFrame.__setitem__,
        gpd.GeoDataFrame.drop,
    )

    def set_attr(self: gpd.GeoDataFrame, attr: str, val: object) -> None:
        if attr == "crs" and self._geometry_column_name not in self.columns:
            self.attrs["_pending_crs"] = val
        else:
            setattr_(self, attr, val)

    def set_item(self: gpd.GeoDataFrame, key: object, value: object) -> None:
        setitem(self, key, value)
        if key == "geometry" and "_pending_crs" in self.attrs:
            crs = self.attrs.pop("_pending_crs")
            self.set_geometry("geometry", inplace=True)
            self.set_crs(crs, inplace=True, allow_override=True)

    def drop_keep_crs(self: gpd.GeoDataFrame, *a: object, **k: object) -> object:
        out = drop(self, *a, **k)
        if not isinstance(out, gpd.GeoDataFrame):
            object.__setattr__(out, "crs", self.crs)
        return out

    gpd.GeoDataFrame.__setattr__ = set_attr  # type: ignore[method-assign]
    gpd.GeoDataFrame.__setitem__ = set_item  # type: ignore[method-assign]
    gpd.GeoDataFrame.drop = drop_keep_crs  # type: ignore[method-assign]
    # osgeo: only a raster's geotransform is read (pixelToGeoCoord); 4326 → 4326 otherwise.
    gdal, ogr, osr = (types.ModuleType(f"osgeo.{n}") for n in ("gdal", "ogr", "osr"))

    class Raster:
        def __init__(self, path: str) -> None:
            with rasterio.open(path) as src:
                self.gt, self.wkt = src.transform.to_gdal(), src.crs.to_wkt()

        def GetGeoTransform(self) -> tuple:
            return self.gt

        def GetProjectionRef(self) -> str:
            return self.wkt

    class Point:
        def __init__(self, kind: int) -> None:
            self.p = [0.0, 0.0]

        def AddPoint(self, x: float, y: float, z: float = 0.0) -> None:
            self.p = [x, y]

        def GetX(self) -> float:
            return self.p[0]

        def GetY(self) -> float:
            return self.p[1]

        def GetPoint(self) -> tuple:
            return (*self.p, 0.0)

        def Transform(self, ct: object) -> None:
            pass

    class Nothing:
        def __init__(self, *a: object) -> None:
            pass

        def __getattr__(self, name: str) -> object:
            return lambda *a: None

    gdal.Open = Raster  # type: ignore[attr-defined]
    ogr.wkbPoint, ogr.Geometry = 1, Point  # type: ignore[attr-defined]
    osr.SpatialReference = osr.CoordinateTransformation = Nothing  # type: ignore[attr-defined]
    osgeo = types.ModuleType("osgeo")
    osgeo.gdal, osgeo.ogr, osgeo.osr = gdal, ogr, osr  # type: ignore[attr-defined]
    sys.modules.update({"osgeo": osgeo, "osgeo.gdal": gdal, "osgeo.ogr": ogr, "osgeo.osr": osr})
    for name in ("cv2", "skimage", "skimage.io"):  # imported for plots only
        sys.modules[name] = types.ModuleType(name)


def main() -> None:
    """Build the graphs as README command 1 does, then score them."""
    import importlib.util

    import numpy as np

    patch()
    src = Path(importlib.util.find_spec("apls").submodule_search_locations[0])  # type: ignore[index]
    sys.path.insert(0, str(src))  # run as its README does: `python apls.py` inside apls/
    import apls as cosmiq  # noqa: E402  (apls/apls.py)
    import topo_metric  # noqa: E402

    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        d = Path(tmp)
        (d / "truth").mkdir()
        (d / "images").mkdir()
        (d / "truth" / "AOI_2_Vegas_img0.geojson").symlink_to((TILE / "roads.geojson").resolve())
        img = d / "images" / "RGB-PanSharpen_AOI_2_Vegas_img0.tif"
        img.symlink_to((TILE / "image.tif").resolve())
        gt, gp, _, _ = cosmiq.gather_files(
            "gt_json_prop_wkt", str(d / "truth"), "", im_dir=str(d / "images"),
            im_prefix="RGB-PanSharpen_", wkt_file=str(TILE / "proposal_albu_wkt_pix.csv"),
            gt_subgraph_filter_weight="length", gt_min_subgraph_length=5,
            prop_subgraph_filter_weight="length_pix", prop_min_subgraph_length=10,
        )  # fmt: skip
    truth, prop = gt[0], gp[0]
    print(f"truth {truth.number_of_nodes()} nodes {truth.number_of_edges()} edges; "
          f"proposal {prop.number_of_nodes()} / {prop.number_of_edges()}")  # fmt: skip
    settings = {"command line": (200, 0.12, 0.001), "roadseg defaults": (50, 0.012, 10)}
    for name, (delta, eps, min_path) in settings.items():
        with contextlib.redirect_stdout(io.StringIO()):
            out = cosmiq.make_graphs(truth.copy(), prop.copy(), linestring_delta=delta,
                                     is_curved_eps=eps, max_snap_dist=4, allow_renaming=True)  # fmt: skip
            c = cosmiq.compute_apls_metric(*out[6:10], out[4], out[5], min_path_length=min_path)
        print(f"APLS ({name}): {c[0]:.5f}  truth→proposal {c[1]:.5f}  proposal→truth {c[2]:.5f}")
    rows = []
    for origin in truth.nodes():  # each truth node once as origin
        topo_metric.np.random.choice = lambda a, n, o=origin: np.array([o])
        with contextlib.redirect_stdout(io.StringIO()):
            rows.append(topo_metric.compute_topo(truth, prop, 150, 30, 4, 500)[:3])
    r = np.array(rows, dtype=float)
    tp, fp, fn = r.sum(0)
    p, q = tp / (tp + fp), tp / (tp + fn)
    print(f"TOPO all origins: tp {tp:.0f} fp {fp:.0f} fn {fn:.0f} F1 {2 * p * q / (p + q):.4f}")
    rng, n = np.random.default_rng(0), len(r)
    draws = r[rng.integers(0, n, (20000, n))].sum(1)  # CosmiQ: n origins with replacement
    f1 = 2 * draws[:, 0] / (2 * draws[:, 0] + draws[:, 1] + draws[:, 2])
    holes = draws[:, 0] + draws[:, 2]
    print(f"TOPO random draw: F1 {f1.mean():.3f} ± {f1.std():.3f}, holes {holes.mean():.0f} ± "
          f"{holes.std():.0f}; P(F1 ≥ 0.631) {(f1 >= 0.631).mean():.4f}, "
          f"P(holes ≤ 3498) {(holes <= 3498).mean():.4f} (published: F1 0.631, 3498 holes)")  # fmt: skip


if __name__ == "__main__":
    main()
