"""Building blocks of the scene generator: noise, styles, geometry, layouts (no files)."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest
import shapely
from roadseg.errors import ConfigError
from roadseg.synth import STYLES, build_scene, sample_style
from roadseg.synth.model import WIDTH_RANGE_M
from roadseg.synth.noise import STRIP, NoiseFactory

MODULES = ["canvas", "coverage", "geometry", "model", "network", "noise", "paint_ground", "georef"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    mod = importlib.import_module(f"roadseg.synth.{name}")
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0


def test_noise_is_deterministic_unit_variance_and_band_consistent() -> None:
    nf = NoiseFactory(3, (2 * STRIP, 300), 0.5)
    for scale in (0.3, 1.2, 6.0, 40.0):
        full = nf.field("x", scale)
        assert full.dtype == np.float32 and full.shape == (2 * STRIP, 300)
        assert np.array_equal(full, NoiseFactory(3, (2 * STRIP, 300), 0.5).field("x", scale))
        if scale <= 6.0:  # enough independent features in 256 x 150 m for sample statistics
            assert abs(float(full.mean())) < 0.25 and 0.7 < float(full.std()) < 1.3
        band = nf.field("x", scale, (STRIP, 2 * STRIP))
        assert np.array_equal(band, full[STRIP:])
    assert not np.array_equal(nf.field("x", 6.0), nf.field("y", 6.0))


def test_coarse_noise_is_the_same_on_the_ground_at_any_pixel_size() -> None:
    fine = NoiseFactory(1, (400, 400), 0.5).field("g", 40.0)
    coarse = NoiseFactory(1, (100, 100), 2.0).field("g", 40.0)
    # Pixel (i, j) at 2 m covers pixels (4i..4i+3, 4j..4j+3) at 0.5 m.
    down = fine.reshape(100, 4, 100, 4).mean(axis=(1, 3))
    assert np.corrcoef(down.ravel(), coarse.ravel())[0, 1] > 0.99


def test_unknown_style_lists_choices() -> None:
    with pytest.raises(ConfigError, match="random, urban, suburban, rural"):
        sample_style("alpine", np.random.default_rng(0))


def test_styles_randomise_palette_and_sun() -> None:
    rng = np.random.default_rng(0)
    styles = [sample_style("suburban", rng) for _ in range(20)]
    assert {s.layout for s in styles} == {"suburban"}
    assert len({s.biome for s in styles}) == 3
    assert np.ptp([s.sun_azimuth for s in styles]) > 60
    assert np.ptp([s.asphalt_major[0] for s in styles]) > 30
    assert {s.layout for s in (sample_style("random", rng) for _ in range(30))} == {
        "urban",
        "suburban",
        "rural",
    }


@pytest.mark.parametrize("style", STYLES[1:])
def test_layouts_have_junctions_and_buildings_off_roads(style: str) -> None:
    lay, st = build_scene(1024, 5, 0.5, style)
    assert st.layout == style
    lines = [r.line for r in lay.roads]
    # Junctions: many pairs of roads meet or cross.
    tree = shapely.STRtree(lines)
    a, b = tree.query(lines, predicate="intersects")
    assert int((a < b).sum()) >= 3
    for r in lay.roads:
        lo, hi = WIDTH_RANGE_M[r.road_class]
        assert lo <= r.width_m <= hi
    surfaces = shapely.union_all([r.surface() for r in lay.roads])
    ground = [b for b in lay.buildings if b.base == 0]
    assert ground or style == "rural"
    overlap = sum(b.footprint.intersection(surfaces).area for b in ground)
    assert overlap < 1.0
    assert len(lay.trees) > 20
    if style != "rural":
        assert len(lay.cars) > 10


def test_some_roads_are_curved() -> None:
    lay, _ = build_scene(1024, 2, 0.5, "suburban")
    straightness = [
        r.line.length
        / shapely.distance(shapely.get_point(r.line, 0), shapely.get_point(r.line, -1))
        for r in lay.roads
        if r.line.length > 80
    ]
    assert max(straightness) > 1.02
