"""Bad values that used to escape as raw tracebacks: each is a RoadsegError naming its parameter."""

from __future__ import annotations

import pytest
from roadseg.adaptation.options import AdaptOptions
from roadseg.errors import RoadsegError
from roadseg.prediction.manifest import MANIFEST, Manifest
from roadseg.prediction.options import PredictOptions


@pytest.mark.parametrize(
    ("make", "param"),
    [
        (lambda: PredictOptions(block_size="abc"), "block_size"),
        (lambda: PredictOptions(block_size=512.5), "block_size"),
        (lambda: PredictOptions(block_size=300), "block_size"),
        (lambda: PredictOptions(cluster=5), "cluster"),
        (lambda: AdaptOptions(minutes="x"), "minutes"),
        (lambda: AdaptOptions(steps="5"), "steps"),
        (lambda: AdaptOptions(min_gain=-1), "min_gain"),
    ],
)
def test_bad_option_values_name_their_parameter(make, param):
    with pytest.raises(RoadsegError) as err:
        make()
    assert err.value.param == param


@pytest.mark.parametrize(
    "text", ["[]", '{"format": "roadseg-blocks", "rasters": {"a": {}}}', '{"format": 1}', "{"]
)
def test_damaged_manifest_is_refused_with_the_fix(tmp_path, text):
    (tmp_path / MANIFEST).write_text(text)
    with pytest.raises(RoadsegError) as err:
        Manifest.open(tmp_path, {}, {}, False)
    assert err.value.param == "out" and "overwrite" in (err.value.hint or "")


def test_empty_gpu_index_is_a_config_error():
    from roadseg.device import resolve_device

    with pytest.raises(RoadsegError) as err:
        resolve_device("cuda:")
    assert err.value.param == "device"
