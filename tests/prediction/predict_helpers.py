"""Prediction test helpers: tiny models (random or local receptive field), scenes, CLI output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from affine import Affine
from roadseg.models import ModelMeta, build_model, save_model
from torch import nn

CLASSES = ("background", "major", "minor")
COLORS = ((0, 0, 0), (230, 60, 40), (250, 200, 60))
WIDTHS = (0.0, 8.0, 5.0)


def tiny_meta(gsd: float = 0.5, tile: int = 128, in_channels: int = 3) -> ModelMeta:
    return ModelMeta("Unet", "resnet18", in_channels, CLASSES, COLORS, WIDTHS, gsd, tile_size=tile)


@pytest.fixture(scope="session")
def model_file(tmp_path_factory) -> Path:
    """A Unet-resnet18 model file with random weights (3 bands, 3 classes, 0.5 m, tile 128)."""
    torch.manual_seed(0)
    meta = tiny_meta()
    path = tmp_path_factory.mktemp("models") / "tiny.safetensors"
    save_model(path, build_model(meta), meta)
    return path


@pytest.fixture(scope="session")
def tiny_model(model_file) -> tuple[nn.Module, ModelMeta]:
    """The model file loaded once: (network, meta) for in-process API calls."""
    from roadseg.models import load_model

    return load_model(model_file)


class LocalNet(nn.Module):
    """A small fully convolutional net with a 29-pixel receptive field.

    Like a trained segmentation net, its output depends on the image around each
    pixel (dark lines → road classes), not on the tile it sits in: a fair model for
    seam tests (seams appear only where tile borders cut the receptive field).
    """

    output_stride = 32

    def __init__(self, num_classes: int = 3, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 5, padding=2),
            nn.ReLU(),
            nn.Conv2d(8, 8, 5, padding=4, dilation=2),
            nn.ReLU(),
            nn.Conv2d(8, num_classes, 5, padding=8, dilation=4),
        )
        with torch.no_grad():
            for m in self.body:
                if isinstance(m, nn.Conv2d):
                    m.weight.copy_(
                        torch.randn(m.weight.shape, generator=g) / np.sqrt(m.weight[0].numel())
                    )
                    m.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x * 4 - 2) * 6

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.forward(x).float(), dim=1)

    def calibrate(self, image: np.ndarray) -> LocalNet:
        """Set output biases so each class wins on a fair share of ``image`` (C, H, W) in [0, 1]."""
        with torch.no_grad():
            logits = self.forward(torch.from_numpy(image[None]).float())[0]
            med = logits.flatten(1).median(dim=1).values
            self.body[-1].bias.sub_(med / 6)
        return self


def road_image(h: int, w: int, seed: int = 1) -> np.ndarray:
    """uint8 (3, h, w): grey ground with dark horizontal/vertical/diagonal roads and noise."""
    rng = np.random.default_rng(seed)
    img = np.full((3, h, w), 150.0)
    y, x = np.mgrid[0:h, 0:w]
    for _ in range(max(2, (h + w) // 80)):
        c, r = rng.integers(0, w), rng.integers(0, h)
        wid = rng.integers(2, 6)
        img[:, np.abs(x - c) < wid] = 60
        img[:, np.abs(y - r) < wid] = 75
    d = rng.integers(-h, w)
    img[:, np.abs((x - y) - d) < 3] = 50
    img += rng.normal(0, 12, img.shape)
    img[1] += 10 * np.sin(x / 17.0)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def local_model() -> tuple[LocalNet, ModelMeta]:
    """(LocalNet, meta) calibrated on a road image: all three classes present."""
    net = LocalNet().eval()
    net.calibrate(road_image(192, 192, seed=7).astype(np.float32) / 255.0)
    return net, tiny_meta(tile=128)


def make_raster(
    path: Path, array: np.ndarray, crs: str | None = "EPSG:32611", transform=None, **extra
) -> Path:
    """Write a GeoTIFF (bands, H, W)."""
    import rasterio

    if array.ndim == 2:
        array = array[None]
    profile = dict(
        driver="GTiff",
        width=array.shape[2],
        height=array.shape[1],
        count=array.shape[0],
        dtype=array.dtype.name,
        transform=transform or Affine(0.5, 0, 500_000.0, 0, -0.5, 4_000_000.0),
    )
    if crs is not None:
        profile["crs"] = crs
    profile.update(extra)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(array)
    return path


def write_scene(
    path: Path,
    h: int,
    w: int,
    res: float = 0.5,
    crs: str | None = "EPSG:32611",
    seed: int = 1,
    **kw,
) -> Path:
    """A road image GeoTIFF at ``res`` metres in UTM 11N."""
    t = Affine(res, 0, 500_000.0, 0, -res, 4_000_000.0)
    return make_raster(path, road_image(h, w, seed), crs=crs, transform=t, **kw)


def last_json(text: str) -> dict:
    """The last non-empty line of CLI output, parsed."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return json.loads(lines[-1])


def progress_lines(text: str) -> list[dict]:
    """JSON progress lines in CLI stderr."""
    out = []
    for ln in text.splitlines():
        ln = ln.strip()
        if ln.startswith("{") and '"progress"' in ln:
            out.append(json.loads(ln))
    return out


class DarkRoadNet(nn.Module):
    """A fixed network that calls dark pixels road: very dark → class 1, dark → class 2.

    Its class map of :func:`road_image` is the image's roads (clean, connected lines), so
    vectorising it gives a real road network: a model for tests of the vector outputs.
    """

    output_stride = 32

    def __init__(self) -> None:
        super().__init__()
        self.smooth = nn.Conv2d(3, 1, 5, padding=2, bias=False)
        with torch.no_grad():
            self.smooth.weight.fill_(1.0 / (3 * 25))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.smooth(x)
        return torch.cat([40 * (v - 0.43), 40 * (0.27 - v), torch.zeros_like(v)], dim=1)

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.forward(x).float(), dim=1)


@pytest.fixture(scope="session")
def dark_model() -> tuple[DarkRoadNet, ModelMeta]:
    """(DarkRoadNet, meta): roads where :func:`road_image` draws them."""
    return DarkRoadNet().eval(), tiny_meta(tile=128)


def settled(result) -> list:
    """A prediction's warnings but the model-fit one (tiny test models are unsure of anything)."""
    from roadseg.prediction.confidence import UnsureWarning

    return [w for w in result.warnings if not isinstance(w, UnsureWarning)]


def constant_model(path, probs, threshold=0.5):
    """A real model file whose softmax is ``probs`` at every pixel (last layer zeroed)."""
    meta = tiny_meta().replace(road_threshold=threshold)
    net = build_model(meta)
    head = net.segmentation_head[0] if hasattr(net, "segmentation_head") else None
    if head is None:
        head = next(m for m in reversed(list(net.modules())) if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.log(torch.tensor(probs)))
    save_model(path, net, meta)
    return path
