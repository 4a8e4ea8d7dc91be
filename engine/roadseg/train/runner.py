"""Assembling and running the Lightning trainer for one run folder."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from roadseg.models import ModelMeta, load_model, save_model
from roadseg.progress import Reporter
from roadseg.train.api import (
    CKPT_DIR,
    MODEL_NAME,
    TrainResult,
    _env_rank,
    augment_in_workers,
    choose_precision,
    clean_metrics,
    write_config,
)
from roadseg.train.callbacks import (
    AtomicCheckpointIO,
    ExportBest,
    FiniteWeights,
    LastCheckpoint,
    ProgressReporter,
    ResumeState,
    Unfreeze,
)
from roadseg.train.config import TrainConfig
from roadseg.train.curves import plot_curves
from roadseg.train.datamodule import RoadDataModule
from roadseg.train.setup import (
    build_loss,
    build_network,
    check_monitor,
    class_weights_for,
    load_init_model,
)
from roadseg.train.task import SegmentationTask


def _devices(v: str) -> Any:
    s = str(v)
    if s == "auto":
        return "auto"
    if s.lstrip("-").isdigit():
        return int(s)
    return [int(x) for x in s.strip("[]").split(",") if x.strip()]


def _log_version(run_dir: Path) -> str:
    n = len(list((run_dir / "logs").glob("part*"))) if (run_dir / "logs").exists() else 0
    return f"part{n}"


def _training_summary(
    cfg: TrainConfig,
    dm: RoadDataModule,
    task: SegmentationTask,
    trainer: L.Trainer,
    setup_init: dict[str, Any],
    precision: str,
    best_epoch: int,
    seconds: float,
) -> dict[str, Any]:
    counts = task.class_pixel_counts()
    return {
        **dm.summary.as_dict(),
        "class_pixels": dict(zip(dm.scheme.names, counts, strict=True)),
        "epochs": int(trainer.current_epoch),
        "steps": int(trainer.global_step),
        "best_epoch": best_epoch,
        "samples_per_epoch": cfg.data.samples_per_epoch,
        "batch_size": cfg.data.batch_size,
        "tile": cfg.data.tile,
        "road_bias": cfg.data.road_bias,
        "val_fraction": cfg.data.val_fraction,
        "loss": cfg.loss.name,
        "class_weights": list(task.loss_fn.class_weights.tolist())
        if task.loss_fn.class_weights is not None
        else None,
        "optimizer": {"name": "AdamW", "lr": cfg.optim.lr, "schedule": cfg.optim.schedule},
        "precision": precision,
        "freeze": cfg.model.freeze,
        "seed": cfg.trainer.seed,
        "seconds": round(seconds, 1),
        **setup_init,
    }


def cpu_threads(cfg: TrainConfig, workers: int) -> int:
    """Torch threads for the training process: ``trainer.threads`` or cores − workers (≥ 1)."""
    if cfg.trainer.threads:
        return int(cfg.trainer.threads)
    return max(1, (os.cpu_count() or 1) - int(workers))


def run_training(
    cfg: TrainConfig,
    run_dir: Path,
    ckpt: Path | None,
    rep: Reporter,
    t0: float,
    extra_callbacks: Sequence[Any] = (),
) -> TrainResult:
    """Build data, model, callbacks and trainer; fit; export the best model; plot curves."""
    threads = torch.get_num_threads()
    try:
        return _run(cfg, run_dir, ckpt, rep, t0, extra_callbacks)
    finally:
        torch.set_num_threads(threads)


def _run(
    cfg: TrainConfig,
    run_dir: Path,
    ckpt: Path | None,
    rep: Reporter,
    t0: float,
    extra_callbacks: Sequence[Any] = (),
) -> TrainResult:
    rank0 = _env_rank() == 0
    seed = int(cfg.trainer.seed)
    L.seed_everything(seed, workers=False, verbose=False)
    if cfg.trainer.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    src_net, src_meta = load_init_model(cfg.model.init_from)
    in_workers = augment_in_workers(cfg)
    dm = RoadDataModule(
        cfg.data,
        cfg.augment,
        in_workers,
        seed,
        gsd_default=src_meta.gsd_m if src_meta else None,
        reporter=rep.sub(""),
        cache_dir=run_dir / "sources",
    )
    setup = build_network(cfg, dm, src_net, src_meta)
    meta = setup.meta
    mode = check_monitor(cfg.trainer.monitor, meta.classes)
    loss = build_loss(cfg, meta, class_weights_for(cfg, dm))
    task = SegmentationTask(
        setup.net,
        meta.classes,
        loss,
        lr=cfg.optim.lr,
        weight_decay=cfg.optim.weight_decay,
        schedule=cfg.optim.schedule,
        warmup=cfg.optim.warmup,
        augment_on_device=not in_workers,
        channels_last=cfg.model.channels_last,
        trainable_stages=setup.trainable_stages,
        source_names=dm.source_names,
    )
    precision = choose_precision(cfg)
    if not (torch.cuda.is_available() and cfg.trainer.accelerator in ("auto", "gpu", "cuda")):
        torch.set_num_threads(cpu_threads(cfg, dm.workers))
    if rank0:
        write_config(cfg, run_dir)

    model_path = run_dir / MODEL_NAME
    ckdir = run_dir / CKPT_DIR
    state = {"best_epoch": -1}

    def export(pl_module: SegmentationTask, trainer: L.Trainer) -> None:
        state["best_epoch"] = int(trainer.current_epoch)
        summary = _training_summary(
            cfg,
            dm,
            pl_module,
            trainer,
            setup.init,
            precision,
            state["best_epoch"],
            time.perf_counter() - t0,
        )
        summary["epochs"] = int(trainer.current_epoch) + 1
        m = clean_metrics({k: v for k, v in pl_module.last_metrics.items()})
        m["epoch"] = int(trainer.current_epoch) + 1
        threshold = float(m.get("road_threshold") or 0.5)
        save_model(
            model_path,
            pl_module.net,
            meta.replace(training=summary, metrics=m, road_threshold=threshold),
        )

    exporter = ExportBest(cfg.trainer.monitor, mode, export)
    callbacks: list[Any] = [
        FiniteWeights(),
        ResumeState(dm.train_sampler),
        exporter,
        ModelCheckpoint(
            dirpath=ckdir,
            filename="best",
            monitor=cfg.trainer.monitor,
            mode=mode,
            save_top_k=1,
            save_last=False,
            enable_version_counter=False,
            auto_insert_metric_name=False,
        ),
        LastCheckpoint(ckdir, cfg.trainer.checkpoint_every),  # after "best": its state is current
    ]
    if cfg.trainer.patience > 0:
        callbacks.append(
            EarlyStopping(
                cfg.trainer.monitor,
                patience=cfg.trainer.patience,
                min_delta=cfg.trainer.min_delta,
                mode=mode,
                check_on_train_epoch_end=False,
            )
        )
    if cfg.model.unfreeze_after is not None and setup.trainable_stages is not None:
        callbacks.append(Unfreeze(cfg.model.unfreeze_after))
    callbacks.append(ProgressReporter(rep, cfg.trainer.epochs))
    callbacks.extend(extra_callbacks)
    version = _log_version(run_dir)
    loggers = [
        CSVLogger(save_dir=str(run_dir), name="logs", version=version),
        TensorBoardLogger(
            save_dir=str(run_dir), name="tensorboard", version=version, default_hp_metric=False
        ),
    ]
    trainer = L.Trainer(
        max_epochs=cfg.trainer.epochs,
        accelerator=cfg.trainer.accelerator,
        devices=_devices(cfg.trainer.devices),
        strategy=cfg.trainer.strategy,
        num_nodes=cfg.trainer.num_nodes,
        precision=precision,  # type: ignore[arg-type]
        gradient_clip_val=cfg.optim.grad_clip or None,
        deterministic=cfg.trainer.deterministic,
        callbacks=callbacks,
        logger=loggers,
        plugins=[AtomicCheckpointIO()],
        default_root_dir=str(run_dir),
        enable_progress_bar=cfg.trainer.progress == "bar",
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=max(1, cfg.trainer.log_every),
        use_distributed_sampler=False,
    )
    trainer.fit(task, datamodule=dm, ckpt_path=str(ckpt) if ckpt else None)
    stopped_early = any(
        isinstance(c, EarlyStopping) and c.stopped_epoch > 0 for c in trainer.callbacks
    )
    seconds = time.perf_counter() - t0
    metrics: dict[str, Any] = {}
    curves = None
    if trainer.is_global_zero:
        if not model_path.exists():
            export(task, trainer)
        net, best_meta = load_model(model_path)
        summary = dict(best_meta.training)
        summary.update(
            epochs=int(trainer.current_epoch),
            steps=int(trainer.global_step),
            best_epoch=exporter.best_epoch + 1,
            stopped_early=stopped_early,
            class_pixels=dict(zip(meta.classes, task.class_pixel_counts(), strict=True)),
            seconds=round(seconds, 1),
        )
        final_meta: ModelMeta = best_meta.replace(training=summary)
        save_model(model_path, net, final_meta)
        metrics = dict(final_meta.metrics)
        curves = plot_curves(run_dir / "logs", run_dir / "curves.png")
    rep.update("train", int(trainer.global_step), int(trainer.global_step), "done")
    return TrainResult(
        model_path=model_path,
        metrics=metrics,
        run_dir=run_dir,
        checkpoint=ckdir / "last.ckpt" if (ckdir / "last.ckpt").exists() else None,
        epochs=int(trainer.current_epoch),
        steps=int(trainer.global_step),
        stopped_early=stopped_early,
        seconds=seconds,
        curves=curves,
        summary={
            "data": dm.summary.as_dict(),
            "precision": precision,
            "augment_in_workers": in_workers,
        },
    )
