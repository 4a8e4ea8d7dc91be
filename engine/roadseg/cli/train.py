"""``roadseg train``: train a road model from imagery + labels; a model file in RUN_DIR.

Every option maps to one key of the training configuration (see
:mod:`roadseg.training.config`); ``--config FILE.yaml`` holds them all and options
given on the command line win over it; ``--set KEY=VALUE`` reaches any key.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from roadseg.cli.options import ProgressRenderer, emit_json, json_option


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) else float("nan")


def _o(opt: str, key: str, help: str, **kw: Any) -> tuple[str, str, dict[str, Any]]:  # noqa: A002
    return opt, key, {"help": help, **kw}


_CHOICE_CLASSES = click.Choice(["auto", "synth", "spacenet", "osm", "roads3", "binary"])
#: (option, dotted config key, click kwargs): every option is one key of the config.
_OPTIONS: list[tuple[str, str, dict[str, Any]]] = [
    _o(
        "--image",
        "data.image",
        "Imagery (repeatable, paired in order with --labels).",
        multiple=True,
        metavar="RASTER",
    ),
    _o(
        "--labels",
        "data.labels",
        "Road lines/polygons (GPKG, GeoJSON, SHP) or a mask raster.",
        multiple=True,
        metavar="VECTOR",
    ),
    _o(
        "--val-image",
        "data.val_image",
        "Separate validation imagery (else a spatial block split).",
        multiple=True,
        metavar="RASTER",
    ),
    _o(
        "--val-labels", "data.val_labels", "Labels of --val-image.", multiple=True, metavar="VECTOR"
    ),
    _o(
        "--dataset",
        "data.dataset",
        "Folder of plain image/mask pairs (DeepGlobe *_sat/*_mask, or images/ + masks/).",
        metavar="DIR",
    ),
    _o("--val-dataset", "data.val_dataset", "Validation folder of the same kind.", metavar="DIR"),
    _o("--class-field", "data.class_field", "Attribute holding the road class.", metavar="F"),
    _o(
        "--classes",
        "data.classes",
        "Class scheme (default auto: from the label attributes).",
        type=_CHOICE_CLASSES,
    ),
    _o(
        "--class-map",
        "data.class_map",
        "Attribute values to classes: '1=major,5=minor,7=track'.",
        metavar="MAP",
    ),
    _o(
        "--mask-colors",
        "data.mask_colors",
        "Colour-coded masks: '110,193,228=road' (';' between).",
        metavar="MAP",
    ),
    _o("--mask-values", "data.mask_values", "Index masks: '255=road'.", metavar="MAP"),
    _o(
        "--mask-threshold",
        "data.mask_threshold",
        "Soft masks: values >= this are road.",
        type=float,
    ),
    _o(
        "--bands",
        "data.bands",
        "1-based bands to read, e.g. 1,2,3 (default: all but alpha).",
        metavar="LIST",
    ),
    _o(
        "--gsd",
        "data.gsd",
        "Model ground resolution in m/px (default: the raster's, rounded).",
        type=float,
        metavar="M",
    ),
    _o(
        "--image-gsd",
        "data.image_gsd",
        "Pixel size of plain images (default: --gsd).",
        type=float,
        metavar="M",
    ),
    _o("--tile", "data.tile", "Window side in model pixels (multiple of 32).", type=int),
    _o("--batch-size", "data.batch_size", "Windows per batch and device.", type=int),
    _o("--samples-per-epoch", "data.samples_per_epoch", "Training windows per epoch.", type=int),
    _o(
        "--road-bias",
        "data.road_bias",
        "Probability of a window drawn around a road (0..1).",
        type=float,
    ),
    _o(
        "--val-fraction",
        "data.val_fraction",
        "Share of blocks held out for validation.",
        type=float,
    ),
    _o(
        "--split",
        "data.split",
        "Validation block pattern.",
        type=click.Choice(["checkerboard", "stripes", "random"]),
    ),
    _o("--block", "data.block", "Split block side in model pixels (default: auto).", type=int),
    _o("--workers", "data.workers", "DataLoader worker processes.", type=int),
    _o("--arch", "model.arch", "Architecture: Unet, UnetPlusPlus, DeepLabV3Plus, FPN, Linknet..."),
    _o(
        "--encoder",
        "model.encoder",
        "Encoder: resnet18/34/50, vgg16, efficientnet-b0, mobilenet_v2, tu-tf_efficientnet_lite0.",
    ),
    _o(
        "--init-from",
        "model.init_from",
        "Fine-tune an earlier roadseg model file (or 'default').",
        metavar="MODEL",
    ),
    _o(
        "--encoder-weights",
        "model.encoder_weights",
        "Local pretrained encoder weights (never downloaded).",
        metavar="FILE|imagenet",
    ),
    _o(
        "--freeze",
        "model.freeze",
        "Freeze the encoder, or all but its last N stages.",
        metavar="encoder|none|last:N",
    ),
    _o(
        "--unfreeze-after",
        "model.unfreeze_after",
        "Unfreeze everything after K epochs.",
        type=int,
        metavar="K",
    ),
    _o("--loss", "loss.name", "ce, dice, focal or sums: 'ce+dice', 'ce+0.5*focal'."),
    _o(
        "--class-weights",
        "loss.class_weights",
        "Per-class loss weights (background first), auto.",
        metavar="auto|LIST",
    ),
    _o("--lr", "optim.lr", "Peak learning rate.", type=float),
    _o(
        "--schedule",
        "optim.schedule",
        "Learning-rate schedule.",
        type=click.Choice(["cosine", "onecycle", "constant"]),
    ),
    _o("--epochs", "trainer.epochs", "Maximum epochs.", type=int, metavar="N"),
    _o("--seed", "trainer.seed", "Random seed.", type=int),
    _o("--precision", "trainer.precision", "auto, 32, bf16-mixed, 16-mixed."),
    _o("--accelerator", "trainer.accelerator", "auto, cpu, gpu."),
    _o("--devices", "trainer.devices", "Devices: auto, a count or a list."),
    _o("--strategy", "trainer.strategy", "auto, ddp, ... (torchrun/SLURM friendly)."),
    _o("--num-nodes", "trainer.num_nodes", "Nodes for multi-node DDP.", type=int),
    _o("--patience", "trainer.patience", "Early-stopping patience in epochs (0: off).", type=int),
    _o("--monitor", "trainer.monitor", "Validation metric for the best model and early stopping."),
    _o(
        "--checkpoint-every",
        "trainer.checkpoint_every",
        "Also save last.ckpt every N steps.",
        type=int,
        metavar="STEPS",
    ),
]


def _options(f: Any) -> Any:
    for opt, key, kw in reversed(_OPTIONS):
        f = click.option(
            opt, key.replace(".", "__"), default=None if not kw.get("multiple") else (), **kw
        )(f)
    return f


@click.command("train")
@_options
@click.option(
    "--binary/--multiclass",
    "binary",
    default=None,
    help="One road class with a sigmoid head, or one output per class.",
)
@click.option(
    "--deterministic/--no-deterministic",
    default=None,
    help="Deterministic algorithms (reproducible).",
)
@click.option("--no-augment", is_flag=True, default=False, help="Turn augmentation off.")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    metavar="RUN_DIR",
    help="Run folder (config, checkpoints, logs, model).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    metavar="FILE.yaml",
    help="YAML config with every parameter.",
)
@click.option(
    "--resume",
    type=click.Path(path_type=Path),
    metavar="RUN_DIR",
    help="Continue an interrupted run.",
)
@click.option(
    "--set",
    "set_items",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override any config key, e.g. --set augment.hue=0.",
)
@click.option(
    "--progress",
    type=click.Choice(["bar", "json", "none"]),
    default=None,
    help="Progress bar, JSON lines on stderr, or nothing.",
)
@click.option("--print-config", is_flag=True, help="Print the resolved config (YAML) and exit.")
@json_option
def cli(
    binary: bool | None,
    deterministic: bool | None,
    no_augment: bool,
    out: Path | None,
    config_file: Path | None,
    resume: Path | None,
    set_items: tuple[str, ...],
    progress: str | None,
    print_config: bool,
    as_json: bool,
    **opts: Any,
) -> None:
    """Train a road segmentation model; write RUN_DIR/model.safetensors."""
    from roadseg.training.api import resolve_config, train
    from roadseg.training.config import parse_set

    overrides: dict[str, Any] = {}
    for name, value in opts.items():
        if value is None or value == ():
            continue
        overrides[name.replace("__", ".")] = list(value) if isinstance(value, tuple) else value
    if binary is not None:
        overrides["model.binary"] = binary
    if deterministic is not None:
        overrides["trainer.deterministic"] = deterministic
    if no_augment:
        overrides["augment.enabled"] = False
    if out is not None:
        overrides["out"] = str(out)
    if progress is None and not sys.stderr.isatty() and not print_config:
        progress = "none"
    if progress is not None:
        overrides["trainer.progress"] = progress
    overrides.update(parse_set(set_items))
    if print_config:
        cfg, _ = resolve_config(None, config_file, resume, overrides)
        click.echo(cfg.to_yaml(), nl=False)
        return
    renderer = ProgressRenderer(progress) if progress == "json" else None
    result = train(None, renderer, None, resume=resume, config_file=config_file, **overrides)
    if renderer is not None:
        renderer.close()
    if as_json:
        emit_json(result.as_dict())
        return
    m = result.metrics
    click.echo(f"model    {result.model_path}")
    click.echo(
        f"epochs   {result.epochs} ({result.steps} steps"
        f"{', stopped early' if result.stopped_early else ''}) in {result.seconds:.0f} s"
    )
    if m:
        click.echo(
            f"val      mIoU {_num(m.get('miou')):.3f}  road IoU {_num(m.get('road_iou')):.3f}"
            f"  F1 {_num(m.get('f1')):.3f}  road threshold {_num(m.get('road_threshold')):.2f}"
        )
        per_source = {
            k[len("road_iou_") :]: v
            for k, v in m.items()
            if k.startswith("road_iou_") and k != "road_iou_t50"
        }
        for name, v in per_source.items():
            click.echo(f"         {name}: road IoU {_num(v):.3f}")
    click.echo(f"run      {result.run_dir} (config.yaml, checkpoints/, logs/, curves.png)")
