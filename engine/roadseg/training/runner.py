"""Running one training: trainer set-up, fit, finish (the model file written once).

:func:`set_up` builds the data, the network, the task, the callbacks and the
Lightning trainer; :func:`fit` runs it; :func:`finish` writes the best model
(``RUN_DIR/model.safetensors``) once, with the final training summary, and the
curves. A cancelled run is finished too, so the best model so far is kept.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from roadseg.device import dataloader_workers, training_precision, training_threads, uses_cuda
from roadseg.errors import CancelledError
from roadseg.models import ModelMeta, save_model
from roadseg.progress import Reporter
from roadseg.training.callbacks import (
    AtomicCheckpointIO,
    AverageWeights,
    ExportBest,
    FiniteWeights,
    LastCheckpoint,
    ProgressReporter,
    ResumeState,
    Unfreeze,
)
from roadseg.training.config import TrainConfig
from roadseg.training.curves import plot_curves
from roadseg.training.datamodule import RoadDataModule
from roadseg.training.rundir import RunDir, TrainResult, clean_metrics, env_rank, write_config
from roadseg.training.setup import (
    ModelSetup,
    build_loss,
    build_network,
    check_monitor,
    class_weights_for,
    load_init_model,
)
from roadseg.training.task import SegmentationTask


@dataclass
class Session:
    """Everything :func:`set_up` built for one run (consumed by :func:`fit` and :func:`finish`)."""

    cfg: TrainConfig
    run: RunDir
    dm: RoadDataModule
    setup: ModelSetup
    task: SegmentationTask
    trainer: L.Trainer
    exporter: ExportBest
    precision: str
    in_workers: bool
    t0: float


def augment_in_workers(backend: str, accelerator: str, workers: int | None) -> bool:
    """Where augmentation runs: ``batch`` (device, torch/kornia) or ``workers`` (numpy).

    ``auto``: on the GPU with kornia; on CPU in the DataLoader workers when there
    are any (numpy there costs 24 ms a 256² sample against kornia's 15 ms in the
    training process, but runs on another core, hidden behind the step), else kornia.

    >>> augment_in_workers("auto", "cpu", 2), augment_in_workers("auto", "cpu", 0)
    (True, False)
    """
    if backend == "auto":
        on_gpu = uses_cuda(accelerator)
        backend = "batch" if on_gpu or dataloader_workers(workers) == 0 else "workers"
    return backend == "workers"


def _devices(v: str) -> Any:
    s = str(v)
    if s == "auto":
        return "auto"
    if s.lstrip("-").isdigit():
        return int(s)
    return [int(x) for x in s.strip("[]").split(",") if x.strip()]


def run_training(
    cfg: TrainConfig,
    run: RunDir,
    ckpt: Any,
    rep: Reporter,
    t0: float,
    before_write: Callable[[], None] | None = None,
    extra_callbacks: Sequence[Any] = (),
) -> TrainResult:
    """Set up, fit and finish one run; torch's thread count is restored afterwards.

    ``before_write`` runs once data and network are set up, before the run writes
    into its folder (``overwrite`` clears the earlier run there).
    """
    threads = torch.get_num_threads()
    try:
        session = set_up(cfg, run, rep, t0, before_write, extra_callbacks)
        try:
            fit(session, ckpt)
        except CancelledError:
            if session.exporter.best_epoch >= 0:
                finish(session, Reporter())  # keep the best model so far
            raise
        return finish(session, rep)
    finally:
        torch.set_num_threads(threads)


def set_up(
    cfg: TrainConfig,
    run: RunDir,
    rep: Reporter,
    t0: float,
    before_write: Callable[[], None] | None = None,
    extra_callbacks: Sequence[Any] = (),
) -> Session:
    """Build data, network, task, callbacks (the run's, then ``extra_callbacks``) and trainer.

    Writes ``config.yaml`` after ``before_write``.
    """
    seed = int(cfg.trainer.seed)
    L.seed_everything(seed, workers=False, verbose=False)
    if cfg.trainer.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    src_net, src_meta = load_init_model(cfg.model.init_from)
    in_workers = augment_in_workers(cfg.augment.backend, cfg.trainer.accelerator, cfg.data.workers)
    dm = RoadDataModule(
        cfg.data,
        cfg.augment,
        in_workers,
        seed,
        gsd_default=src_meta.gsd_m if src_meta else None,
        reporter=rep.sub(""),
        cache_dir=run.path / "sources",
        pin_memory=uses_cuda(cfg.trainer.accelerator),
    )
    setup = build_network(cfg, dm, src_net, src_meta)
    meta = setup.meta
    mode = check_monitor(cfg.trainer.monitor, meta.classes)
    task = SegmentationTask(
        setup.net,
        meta.classes,
        build_loss(cfg, meta, class_weights_for(cfg, dm)),
        lr=cfg.optim.lr,
        weight_decay=cfg.optim.weight_decay,
        schedule=cfg.optim.schedule,
        warmup=cfg.optim.warmup,
        augment_on_device=not in_workers,
        channels_last=cfg.model.channels_last,
        trainable_stages=setup.trainable_stages,
        source_names=dm.source_names,
    )
    precision = training_precision(cfg.trainer.precision, cfg.trainer.accelerator)
    if not uses_cuda(cfg.trainer.accelerator):
        torch.set_num_threads(training_threads(cfg.trainer.threads, dm.workers))
    if env_rank() == 0:
        if before_write is not None:
            before_write()
        write_config(cfg, run)
    exporter = ExportBest(cfg.trainer.monitor, mode)
    trainer = L.Trainer(
        max_epochs=cfg.trainer.epochs,
        accelerator=cfg.trainer.accelerator,
        devices=_devices(cfg.trainer.devices),
        strategy=cfg.trainer.strategy,
        num_nodes=cfg.trainer.num_nodes,
        precision=precision,  # type: ignore[arg-type]
        gradient_clip_val=cfg.optim.grad_clip or None,
        deterministic=cfg.trainer.deterministic,
        callbacks=[*_callbacks(cfg, run, dm, setup, exporter, mode, rep), *extra_callbacks],
        logger=_loggers(run),
        plugins=[AtomicCheckpointIO()],
        default_root_dir=str(run.path),
        enable_progress_bar=cfg.trainer.progress == "bar",
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=max(1, cfg.trainer.log_every),
        use_distributed_sampler=False,
    )
    return Session(cfg, run, dm, setup, task, trainer, exporter, precision, in_workers, t0)


def _callbacks(
    cfg: TrainConfig,
    run: RunDir,
    dm: RoadDataModule,
    setup: ModelSetup,
    exporter: ExportBest,
    mode: str,
    rep: Reporter,
) -> list[Any]:
    t = cfg.trainer
    callbacks: list[Any] = [
        FiniteWeights(),
        ResumeState(dm.train_sampler),
        *([AverageWeights(t.ema_decay)] if t.ema_decay is not None else []),
        exporter,
        ModelCheckpoint(
            dirpath=run.checkpoints,
            filename="best",
            monitor=t.monitor,
            mode=mode,
            save_top_k=1,
            save_last=False,
            enable_version_counter=False,
            auto_insert_metric_name=False,
        ),
        LastCheckpoint(run.checkpoints, t.checkpoint_every),  # after "best": its state is current
    ]
    if t.patience > 0:
        callbacks.append(
            EarlyStopping(
                t.monitor,
                patience=t.patience,
                min_delta=t.min_delta,
                mode=mode,
                check_on_train_epoch_end=False,
            )
        )
    if cfg.model.unfreeze_after is not None and setup.trainable_stages is not None:
        callbacks.append(Unfreeze(cfg.model.unfreeze_after))
    callbacks.append(ProgressReporter(rep, t.epochs))
    return callbacks


def _loggers(run: RunDir) -> list[Any]:
    version = run.log_version()
    return [
        CSVLogger(save_dir=str(run.path), name="logs", version=version),
        TensorBoardLogger(
            save_dir=str(run.path), name="tensorboard", version=version, default_hp_metric=False
        ),
    ]


def fit(session: Session, ckpt: Any) -> None:
    """Run Lightning's fit loop (from ``ckpt`` when resuming)."""
    session.trainer.fit(session.task, datamodule=session.dm, ckpt_path=str(ckpt) if ckpt else None)


def finish(session: Session, rep: Reporter) -> TrainResult:
    """Write the best model (once), plot the curves, report; return the result."""
    trainer, run, task = session.trainer, session.run, session.task
    stopped_early = any(
        isinstance(c, EarlyStopping) and c.stopped_epoch > 0
        for c in getattr(trainer, "callbacks", ())
    )
    seconds = time.perf_counter() - session.t0
    metrics: dict[str, Any] = {}
    curves = None
    if trainer.is_global_zero:
        meta = _final_meta(session, stopped_early, seconds)
        weights = session.exporter.best_weights(run.best_checkpoint) or _state(task)
        net = session.setup.net
        net.load_state_dict(weights)
        save_model(run.model, net, meta)
        metrics = dict(meta.metrics)
        curves = plot_curves(run.logs, run.curves)
    steps = int(trainer.global_step)
    rep.update("train", steps, steps, "done")
    return TrainResult(
        model_path=run.model,
        metrics=metrics,
        run_dir=run.path,
        checkpoint=run.last_checkpoint if run.last_checkpoint.exists() else None,
        epochs=int(trainer.current_epoch),
        steps=steps,
        stopped_early=stopped_early,
        seconds=seconds,
        curves=curves,
        summary={
            "data": session.dm.summary.as_dict(),
            "precision": session.precision,
            "augment_in_workers": session.in_workers,
        },
    )


def _state(task: SegmentationTask) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in task.net.state_dict().items()}


def _final_meta(session: Session, stopped_early: bool, seconds: float) -> ModelMeta:
    """The model's metadata: the training summary and the best epoch's metrics."""
    cfg, dm, task, trainer = session.cfg, session.dm, session.task, session.trainer
    exp = session.exporter
    best_metrics = exp.best_metrics if exp.best_epoch >= 0 else task.last_metrics
    best_epoch = exp.best_epoch if exp.best_epoch >= 0 else int(trainer.current_epoch)
    metrics = clean_metrics(best_metrics)
    metrics["epoch"] = best_epoch + 1
    threshold = float(metrics.get("road_threshold") or 0.5)
    lw = task.loss_fn.class_weights
    summary = {
        **dm.summary.as_dict(),
        "class_pixels": dict(
            zip(session.setup.meta.classes, task.class_pixel_counts(), strict=True)
        ),
        "epochs": int(trainer.current_epoch),
        "steps": int(trainer.global_step),
        "best_epoch": best_epoch + 1,
        "stopped_early": stopped_early,
        "samples_per_epoch": cfg.data.samples_per_epoch,
        "batch_size": cfg.data.batch_size,
        "tile": cfg.data.tile,
        "road_bias": cfg.data.road_bias,
        "val_fraction": cfg.data.val_fraction,
        "scale_jitter": cfg.data.scale_jitter,  # predict's `working_gsd` warns outside it
        "loss": cfg.loss.name,
        "class_weights": list(lw.tolist()) if lw is not None else None,
        "optimizer": {"name": "AdamW", "lr": cfg.optim.lr, "schedule": cfg.optim.schedule},
        "precision": session.precision,
        "freeze": cfg.model.freeze,
        "ema_decay": cfg.trainer.ema_decay,
        "seed": cfg.trainer.seed,
        "seconds": round(seconds, 1),
        **session.setup.init,
    }
    return session.setup.meta.replace(training=summary, metrics=metrics, road_threshold=threshold)
