"""Plain image/mask layouts (DeepGlobe, images/+masks/, the real Dubai set) and mask colour maps."""

from __future__ import annotations

import numpy as np
import pytest
from road_scenes import plain_pair
from roadseg.data.catalog import open_pair, parse_mask_colors, resolve_scheme
from roadseg.data.layouts import find_pairs
from roadseg.data.scene import IGNORE_INDEX, Scene
from roadseg.errors import ConfigError, CRSError, DataError, InputNotFoundError

DUBAI_ROAD = "110,193,228=road"


def test_deepglobe_layout(tmp_path):
    truth = {}
    for i in (1, 2):
        truth[i] = plain_pair(tmp_path / f"{i}00_sat.jpg", tmp_path / f"{i}00_mask.png", seed=i)
    (tmp_path / "300_sat.jpg").write_bytes(
        (tmp_path / "100_sat.jpg").read_bytes()
    )  # no mask: skipped
    layout, pairs = find_pairs(tmp_path)
    assert layout == "deepglobe" and len(pairs) == 2
    scheme, mask = resolve_scheme("auto", pairs[0].mask)
    assert scheme.names == ("background", "road")
    raster, lab = open_pair(pairs[0].image, pairs[0].mask, scheme, mask, image_gsd=0.5)
    scene = Scene(raster, lab, 0.5)
    s = scene.read(0, 0, 64)
    assert np.array_equal(s.mask == 1, truth[1][:64, :64])


def test_images_masks_layout_recursive(tmp_path):
    for t in ("Tile 1", "Tile 2"):
        for k in (1, 2):
            plain_pair(
                tmp_path / t / "images" / f"image_part_00{k}.jpg",
                tmp_path / t / "masks" / f"image_part_00{k}.png",
                seed=k,
            )
    layout, pairs = find_pairs(tmp_path)
    assert layout == "images+masks" and len(pairs) == 4
    assert all(p.image.stem == p.mask.stem for p in pairs)


def test_colour_coded_masks(tmp_path):
    road = plain_pair(
        tmp_path / "images" / "a.jpg", tmp_path / "masks" / "a.png", color=(110, 193, 228)
    )
    scheme, mask = resolve_scheme("auto", None, mask_colors=DUBAI_ROAD)
    assert scheme.names == ("background", "road") and scheme.colors[1] == (110, 193, 228)
    raster, lab = open_pair(
        tmp_path / "images" / "a.jpg", tmp_path / "masks" / "a.png", scheme, mask, image_gsd=1.0
    )
    s = Scene(raster, lab, 1.0).read(0, 0, 64)
    assert np.array_equal(s.mask == 1, road[:64, :64])
    assert parse_mask_colors("1,2,3=a; 4,5,6=b") == [((1, 2, 3), "a"), ((4, 5, 6), "b")]
    with pytest.raises(ConfigError, match="R,G,B"):
        parse_mask_colors("1,2=road")


def test_layout_errors(tmp_path):
    with pytest.raises(InputNotFoundError):
        find_pairs(tmp_path / "missing")
    with pytest.raises(DataError, match="no image/mask pairs"):
        find_pairs(tmp_path)
    plain_pair(tmp_path / "x_sat.jpg", tmp_path / "x_mask.png")
    _, pairs = find_pairs(tmp_path)
    scheme, mask = resolve_scheme("auto", pairs[0].mask)
    with pytest.raises(CRSError, match="image_gsd"):
        open_pair(pairs[0].image, pairs[0].mask, scheme, mask)  # plain image, no stated resolution
    plain_pair(tmp_path / "big" / "images" / "y.jpg", tmp_path / "other.png", size=(40, 40))
    with pytest.raises(DataError, match="pair each image"):
        open_pair(
            tmp_path / "big" / "images" / "y.jpg",
            tmp_path / "x_mask.png",
            scheme,
            mask,
            image_gsd=1.0,
        )


@pytest.mark.real_data
def test_dubai_layout_with_colour_map(real_data):
    layout, pairs = find_pairs(real_data / "dubai_hitl")
    assert layout == "images+masks" and len(pairs) == 54
    fractions = {}
    for colors in (
        DUBAI_ROAD,
        "222,89,127=road",
    ):  # the user's colour; the (wrong) classes.json one
        scheme, mask = resolve_scheme("auto", None, mask_colors=colors)
        fr = []
        for p in pairs[::9]:  # one part per tile; Tile 2 stores its masks with a palette
            raster, lab = open_pair(p.image, p.mask, scheme, mask, image_gsd=1.0)
            scene = Scene(raster, lab, 1.0)
            m = scene.read(0, 0, max(scene.width, scene.height) // 32 * 32 + 32).mask
            fr.append((m == 1).sum() / (m != IGNORE_INDEX).sum())
        fractions[colors] = fr
    assert all(0.005 < f < 0.35 for f in fractions[DUBAI_ROAD]), fractions
    assert max(fractions["222,89,127=road"]) == 0.0
