"""Engine command lines (the CLI ↔ plugin contract's argument names).

The plugin talks to the engine only through these command lines; every builder
returns a new list of strings ready for :func:`subprocess.Popen`. The QGIS tests
run every command line the plugin can build against the real engine.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from .params import RunParameters

#: ``roadseg train`` takes Lightning's accelerator names, not a device.
TRAIN_ACCELERATORS: dict[str, str] = {"cpu": "cpu", "cuda": "gpu", "mps": "mps"}

#: Options every long-running command gets: machine-readable progress and result.
MACHINE_OPTIONS: tuple[str, ...] = ("--progress", "json", "--json")


def fmt_number(value: float) -> str:
    """Return a coordinate as the shortest exact text (no exponent surprises for big values).

    >>> fmt_number(500000.0), fmt_number(-0.1), fmt_number(4000000.25)
    ('500000', '-0.1', '4000000.25')
    """
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = f"{value:.12f}".rstrip("0").rstrip(".")
    if text.endswith(".0"):
        text = text[:-2]
    return text


def predict_argv(
    engine: Sequence[str],
    params: RunParameters,
    out_raster: str,
    out_vectors: str | None,
    extent_file: str | None = None,
    overwrite: bool = False,
) -> list[str]:
    """``roadseg predict RASTER --out OUT.tif [--vectorize OUT.gpkg] AREA [options]``.

    AREA is ``--extent-file POLYGONS`` when there are polygons, else ``--bbox … --bbox-crs …``:
    the engine takes one or the other, never both.

    >>> from .params import RunParameters
    >>> p = RunParameters("in.tif", "in", (0, 0, 10, 10), "EPSG:32611", "/out", tile=256)
    >>> predict_argv(["roadseg"], p, "o.tif", "o.gpkg")[:11]
    ['roadseg', 'predict', 'in.tif', '--out', 'o.tif', '--vectorize', 'o.gpkg', '--bbox', '0', \
'0', '10']
    >>> a = predict_argv(["roadseg"], p, "o.tif", None, extent_file="area.geojson")
    >>> "--bbox" in a, a[a.index("--extent-file") + 1], "--working-gsd" in a
    (False, 'area.geojson', False)
    >>> from dataclasses import replace
    >>> a = predict_argv(["roadseg"], replace(p, working_gsd=0.4), "o.tif", None)
    >>> a[a.index("--working-gsd") + 1]
    '0.4'
    >>> a = predict_argv(["roadseg"], replace(p, road_threshold=0.35), "o.tif", None)
    >>> a[a.index("--road-threshold") + 1]
    '0.35'
    """
    argv = [*engine, "predict", params.raster_path, "--out", out_raster]
    if out_vectors:
        argv += ["--vectorize", out_vectors]
    argv += _imagery_options(params, extent_file)
    if overwrite:
        argv.append("--overwrite")
    return argv + list(MACHINE_OPTIONS)


def check_fit_argv(
    engine: Sequence[str],
    params: RunParameters,
    extent_file: str | None = None,
    samples: int | None = None,
    sample_m: float | None = None,
) -> list[str]:
    """``roadseg check-fit RASTER AREA [options]``: the run's imagery, model and options.

    The same area, model and network options as :func:`predict_argv` for these parameters,
    so the check rates what the run would map; it writes nothing. ``samples`` and
    ``sample_m`` replace the engine's defaults (8 windows of 256 m).

    >>> from .params import RunParameters
    >>> p = RunParameters("in.tif", "in", (0, 0, 10, 10), "EPSG:32611", "/tmp", road_threshold=0.4)
    >>> check_fit_argv(["roadseg"], p)
    ['roadseg', 'check-fit', 'in.tif', '--bbox', '0', '0', '10', '10', '--bbox-crs', \
'EPSG:32611', '--road-threshold', '0.4', '--progress', 'json', '--json']
    >>> check_fit_argv(["roadseg"], p, samples=4, sample_m=128.0)[-6:-3]
    ['4', '--sample-m', '128']
    """
    argv = [*engine, "check-fit", params.raster_path, *_imagery_options(params, extent_file)]
    if samples is not None:
        argv += ["--samples", str(samples)]
    if sample_m is not None:
        argv += ["--sample-m", fmt_number(sample_m)]
    return argv + list(MACHINE_OPTIONS)


def _imagery_options(params: RunParameters, extent_file: str | None) -> list[str]:
    """The area (polygons or box), the model and the network options of a run."""
    argv: list[str] = []
    if extent_file:
        argv += ["--extent-file", extent_file]
    else:
        argv += ["--bbox", *(fmt_number(v) for v in params.bbox), "--bbox-crs", params.bbox_crs]
    if params.model:
        argv += ["--model", params.model]
    if params.device and params.device != "auto":
        argv += ["--device", params.device]
    if params.tile:
        argv += ["--tile", str(params.tile)]
    if params.overlap is not None:
        argv += ["--overlap", str(params.overlap)]
    if params.batch_size:
        argv += ["--batch-size", str(params.batch_size)]
    if params.working_gsd:
        argv += ["--working-gsd", fmt_number(params.working_gsd)]
    if params.road_threshold:
        argv += ["--road-threshold", fmt_number(params.road_threshold)]
    return argv


def vectorize_argv(
    engine: Sequence[str], class_raster: str, out_vectors: str, overwrite: bool = False
) -> list[str]:
    """``roadseg vectorize CLASS_RASTER --out OUT.gpkg``.

    >>> vectorize_argv(["roadseg"], "c.tif", "v.gpkg")
    ['roadseg', 'vectorize', 'c.tif', '--out', 'v.gpkg', '--progress', 'json', '--json']
    """
    argv = [*engine, "vectorize", class_raster, "--out", out_vectors]
    if overwrite:
        argv.append("--overwrite")
    return argv + list(MACHINE_OPTIONS)


def train_argv(
    engine: Sequence[str],
    image: str,
    labels: str,
    out_dir: str,
    class_field: str | None = None,
    epochs: int | None = None,
    device: str | None = None,
    config: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """``roadseg train --image RASTER --labels VECTOR [--class-field F] --out RUN_DIR``.

    >>> train_argv(["roadseg"], "i.tif", "l.gpkg", "run", class_field="kind", epochs=2)[1:]
    ['train', '--image', 'i.tif', '--labels', 'l.gpkg', '--out', 'run', '--class-field', 'kind', \
'--epochs', '2', '--progress', 'json', '--json']
    """
    argv = [*engine, "train", "--image", image, "--labels", labels, "--out", out_dir]
    if class_field:
        argv += ["--class-field", class_field]
    if epochs:
        argv += ["--epochs", str(epochs)]
    if device and device != "auto":
        argv += ["--accelerator", TRAIN_ACCELERATORS.get(device, device)]
    if config:
        argv += ["--config", config]
    return argv + list(extra) + list(MACHINE_OPTIONS)


def models_argv(engine: Sequence[str]) -> list[str]:
    """``roadseg models --json``: the engine's embedded models.

    >>> models_argv(["roadseg"])
    ['roadseg', 'models', '--json']
    """
    return [*engine, "models", "--json"]


def model_info_argv(engine: Sequence[str], model: str) -> list[str]:
    """``roadseg models --info MODEL --json``: one model's metadata (loads the model file).

    >>> model_info_argv(["roadseg"], "m.safetensors")
    ['roadseg', 'models', '--info', 'm.safetensors', '--json']
    """
    return [*engine, "models", "--info", model, "--json"]


def devices_argv(engine: Sequence[str]) -> list[str]:
    """``roadseg devices --json``: the devices the engine can use here, and what ``auto`` picks.

    >>> devices_argv(["roadseg"])
    ['roadseg', 'devices', '--json']
    """
    return [*engine, "devices", "--json"]


def version_argv(engine: Sequence[str]) -> list[str]:
    """``roadseg --version``."""
    return [*engine, "--version"]


def help_argv(engine: Sequence[str], command: str) -> list[str]:
    """``roadseg COMMAND --help`` (to learn which options this engine has)."""
    return [*engine, command, "--help"]


def display(argv: Sequence[str]) -> str:
    """Return a command line as text a user can paste into a shell.

    >>> display(["roadseg", "predict", "my file.tif"])
    "roadseg predict 'my file.tif'"
    """
    return " ".join(shlex.quote(a) for a in argv)
