"""Lightning callbacks and plugins of a training run.

* :class:`AtomicCheckpointIO` — checkpoints written to a temporary file in the
  same folder, flushed, then renamed. (Lightning 2.6's ``TorchCheckpointIO``
  writes through fsspec's transaction, whose temporary file lives in the
  system temp folder: across file systems the final move is a copy, so a kill
  can leave a truncated checkpoint.)
* :class:`FiniteWeights` — no checkpoint is written with NaN/inf weights.
* :class:`ResumeState` — the window sampler's position and the RNG states in
  every checkpoint, so a resumed run continues mid-epoch exactly.
* :class:`AverageWeights` — an exponential moving average of the network's weights,
  swapped in for validation (``trainer.ema_decay``).
* :class:`ExportBest` — remembers the best network whenever the monitored
  validation metric improves (the model file is written once, at the end).
* :class:`Unfreeze` — unfreezes the encoder after K epochs.
* :class:`ProgressReporter` — engine progress events and cancellation.
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from roadseg.data.sampler import WindowSampler
from roadseg.errors import TrainingDivergedError
from roadseg.geo.atomic import temp_path_for, writing
from roadseg.progress import Reporter


class AtomicCheckpointIO(TorchCheckpointIO):
    """Save checkpoints atomically: same-folder temporary file, fsync, ``os.replace``."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        """Write ``checkpoint`` to ``path`` so that ``path`` is always complete or absent/old."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path_for(p)  # names the process: a killed run's file is removed later
        try:
            with writing(p), open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, p)
        finally:
            if tmp.exists():
                tmp.unlink()


class LastCheckpoint(ModelCheckpoint):
    """``last.ckpt`` after every validation and every N training steps.

    Lightning's ``save_last=True`` only writes ``last.ckpt`` when a top-k
    checkpoint was saved at the same step, so an epoch without improvement
    would not be resumable. Being a ``ModelCheckpoint``, this callback runs
    after the other callbacks (early stopping, best checkpoint), so their state
    in ``last.ckpt`` is up to date.
    """

    def __init__(self, dirpath: str | os.PathLike[str], every_n_train_steps: int = 0) -> None:
        super().__init__(
            dirpath=Path(dirpath),
            save_top_k=0,
            save_last=True,
            every_n_train_steps=every_n_train_steps or None,
            enable_version_counter=False,
        )

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Always write ``last.ckpt`` at the end of an epoch's validation."""
        if trainer.sanity_checking or getattr(trainer, "fast_dev_run", False):
            return
        self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        self._last_global_step_saved = trainer.global_step


class FiniteWeights(Callback):
    """Refuse to write a checkpoint whose weights are NaN or infinite (keep the last good one)."""

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Raise before the file is written when a floating-point weight is not finite."""
        bad = [
            k
            for k, v in checkpoint.get("state_dict", {}).items()
            if torch.is_tensor(v) and v.is_floating_point() and not bool(torch.isfinite(v).all())
        ]
        if bad:
            raise TrainingDivergedError(
                f"training diverged: {len(bad)} weight tensor(s) became NaN/inf (e.g. {bad[0]}) "
                f"at step {trainer.global_step}",
                param="optim.lr",
                hint="lower `optim.lr` or check the imagery scaling",
            )


class ResumeState(Callback):
    """Store the sampler position and RNG states; restore them on resume."""

    def __init__(self, sampler: WindowSampler) -> None:
        self.sampler = sampler
        self.resumed_at: tuple[int, int] | None = None

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Record epoch, batches processed in it and the RNG states."""
        bp = trainer.fit_loop.epoch_loop.batch_progress.current
        checkpoint["roadseg_resume"] = {
            "epoch": int(trainer.current_epoch),
            "batches_done": int(getattr(bp, "processed", 0)),
            "num_batches": int(trainer.num_training_batches)
            if math.isfinite(trainer.num_training_batches)
            else -1,
            "batch_size": int(getattr(trainer.train_dataloader, "batch_size", 0) or 0),
            # Plain types and tensors only: the checkpoint loads with torch.load(weights_only=True).
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": _np_state(),
            "python_rng": random.getstate(),
        }

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Position the sampler where the checkpoint left off."""
        st = checkpoint.get("roadseg_resume")
        if not st:
            return
        epoch, done, n = st["epoch"], st["batches_done"], st["num_batches"]
        if n > 0 and done >= n:
            epoch, done = epoch + 1, 0
        self.sampler.resume_at(epoch, done * st["batch_size"])
        self.resumed_at = (epoch, done)
        torch.set_rng_state(st["torch_rng"])
        name, keys, pos, has_gauss, cached = st["numpy_rng"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        random.setstate(st["python_rng"])


def _np_state() -> tuple[str, torch.Tensor, int, int, float]:
    state: Any = np.random.get_state()
    name, keys, pos, has_gauss, cached = state
    return (
        str(name),
        torch.from_numpy(keys.astype(np.int64)),
        int(pos),
        int(has_gauss),
        float(cached),
    )


#: Checkpoint key of the averaged network (:class:`AverageWeights`).
AVERAGED_KEY = "averaged_net"


class AverageWeights(Callback):
    """An exponential moving average of the network's weights, validated instead of them.

    After every optimiser step each floating-point tensor of the network's state (weights
    and batch-norm statistics) moves towards the trained one: ``avg += (1 − d)(w − avg)``
    with ``d = min(decay, (1 + n) / (10 + n))`` after ``n`` updates (the average starts
    as the weights and its memory grows with the run). Validation runs on the average
    (swapped in and out), so the metrics, the best epoch, the threshold chosen and the
    exported model are the average's; training goes on from the raw weights. The average
    is saved in every checkpoint (``averaged_net``) and restored on resume.

    Args:
        decay: The longest memory, per step (0.998: about the last 500 steps).

    """

    def __init__(self, decay: float) -> None:
        self.decay = float(decay)
        self.updates = 0
        self.avg: dict[str, torch.Tensor] | None = None
        self._raw: dict[str, torch.Tensor] | None = None
        self._last_step = -1

    @staticmethod
    def _floating(pl_module: L.LightningModule) -> dict[str, torch.Tensor]:
        net = getattr(pl_module, "net", pl_module)
        return {k: v for k, v in net.state_dict().items() if v.is_floating_point()}

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        """Move the average towards the weights after each optimiser step."""
        if trainer.global_step == self._last_step:
            return  # no optimiser step (gradient accumulation)
        self._last_step = trainer.global_step
        cur = self._floating(pl_module)
        with torch.no_grad():
            if self.avg is None:
                self.avg = {k: v.detach().clone() for k, v in cur.items()}
            else:
                d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
                for k, v in cur.items():
                    self.avg[k].lerp_(v.detach().to(self.avg[k].device), 1.0 - d)
        self.updates += 1

    def averaged_state(self, pl_module: L.LightningModule) -> dict[str, torch.Tensor]:
        """The network's state with the averaged tensors (integers as trained), on the CPU."""
        net = getattr(pl_module, "net", pl_module)
        state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        for k, v in (self.avg or {}).items():
            state[k] = v.detach().cpu().clone()
        return state

    def _load(self, pl_module: L.LightningModule, values: dict[str, torch.Tensor]) -> None:
        cur = self._floating(pl_module)
        with torch.no_grad():
            for k, v in values.items():
                cur[k].copy_(v)

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Validate the average: keep the raw weights aside and load the average."""
        if self.avg is None or trainer.sanity_checking:
            return
        self._raw = {k: v.detach().clone() for k, v in self._floating(pl_module).items()}
        self._load(pl_module, self.avg)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Put the raw weights back (training continues from them)."""
        if self._raw is not None:
            self._load(pl_module, self._raw)
            self._raw = None

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Save the average beside the raw weights."""
        if self.avg is not None:
            checkpoint[AVERAGED_KEY] = {k: v.detach().cpu().clone() for k, v in self.avg.items()}
            checkpoint["averaged_updates"] = self.updates

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Restore the average of a resumed run."""
        saved = checkpoint.get(AVERAGED_KEY)
        if saved is not None:
            device = next(iter(self._floating(pl_module).values())).device
            self.avg = {k: v.to(device) for k, v in saved.items()}
            self.updates = int(checkpoint.get("averaged_updates", 0))


class ExportBest(Callback):
    """Remember the best network whenever ``monitor`` improves (written once, at the end).

    Keeps a CPU copy of the weights and the epoch's validation metrics; the run's
    finish writes them as the model file. The best score, epoch and metrics also go
    into checkpoints, so a resumed run that never improves again still finds them
    (its weights then come from ``best.ckpt``).

    Args:
        monitor: Logged metric name.
        mode: ``max`` or ``min``.

    """

    def __init__(self, monitor: str, mode: str) -> None:
        self.monitor = monitor
        self.mode = mode
        self.best: float | None = None
        self.best_epoch = -1
        self.best_metrics: dict[str, Any] = {}
        self._weights: dict[str, torch.Tensor] | None = None

    def _better(self, v: float) -> bool:
        if math.isnan(v):
            return False
        if self.best is None:
            return True
        return v > self.best if self.mode == "max" else v < self.best

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Compare and remember."""
        if trainer.sanity_checking:
            return
        metric = trainer.callback_metrics.get(self.monitor)
        if metric is None:
            return
        v = float(metric)
        if self._better(v):
            self.best, self.best_epoch = v, int(trainer.current_epoch)
            self.best_metrics = dict(getattr(pl_module, "last_metrics", {}))
            averaging = [c for c in trainer.callbacks if isinstance(c, AverageWeights)]  # type: ignore[attr-defined]
            if averaging and averaging[0].avg is not None:  # the validated weights
                self._weights = averaging[0].averaged_state(pl_module)
            else:
                net = getattr(pl_module, "net", pl_module)
                self._weights = {k: t.detach().cpu().clone() for k, t in net.state_dict().items()}

    def best_weights(self, best_checkpoint: Path) -> dict[str, torch.Tensor] | None:
        """The best network's weights: remembered in this run, else from ``best_checkpoint``."""
        if self._weights is not None:
            return self._weights
        if self.best_epoch < 0 or not best_checkpoint.is_file():
            return None
        ck = torch.load(best_checkpoint, map_location="cpu", weights_only=True)
        prefix = "net."
        state = {k[len(prefix) :]: v for k, v in ck["state_dict"].items() if k.startswith(prefix)}
        return state | dict(ck.get(AVERAGED_KEY) or {})  # validated on the average, if any

    def state_dict(self) -> dict[str, Any]:
        """Best score, epoch and metrics so far."""
        return {"best": self.best, "best_epoch": self.best_epoch, "metrics": self.best_metrics}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the best score, epoch and metrics."""
        self.best = state_dict.get("best")
        self.best_epoch = int(state_dict.get("best_epoch", -1))
        self.best_metrics = dict(state_dict.get("metrics") or {})


class Unfreeze(Callback):
    """Unfreeze the whole encoder once ``after`` epochs are done."""

    def __init__(self, after: int) -> None:
        self.after = int(after)

    def _apply(self, trainer: L.Trainer, pl_module: Any) -> None:
        if trainer.current_epoch >= self.after and pl_module.frozen:
            pl_module.set_freeze(None)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Also right after a resume (mid-epoch restarts skip the epoch-start hook)."""
        self._apply(trainer, pl_module)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Check at each epoch start."""
        self._apply(trainer, pl_module)


class ProgressReporter(Callback):
    """Forward training progress to a progress callback; honour cancel between steps.

    Cancellation is checked at the start of a step, after the previous step's
    and epoch's checkpoints were written, so a cancelled run resumes from where
    it stopped.
    """

    def __init__(self, reporter: Reporter, epochs: int) -> None:
        self.reporter = reporter
        self.epochs = epochs

    def _emit(self, stage: str, done: int, total: int, msg: str) -> None:
        cb = self.reporter._progress  # noqa: SLF001 - same package; events without the cancel check
        if cb is not None:
            from roadseg.progress import ProgressEvent

            cb(ProgressEvent(stage, int(done), int(total), msg))

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Stop here if the user cancelled."""
        self.reporter.check()

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """One event per step."""
        if not trainer.is_global_zero:
            return
        total = (
            int(trainer.estimated_stepping_batches)
            if math.isfinite(trainer.estimated_stepping_batches)
            else 0
        )
        loss = trainer.callback_metrics.get(
            "train_loss_step", trainer.callback_metrics.get("train_loss")
        )
        msg = f"epoch {trainer.current_epoch + 1}/{self.epochs}" + (
            f" loss {float(loss):.4f}" if loss is not None else ""
        )
        self._emit("train", trainer.global_step, total, msg)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """One event per validation with its main metrics."""
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        m = trainer.callback_metrics
        parts = [
            f"{k} {float(m[k]):.4f}" for k in ("val_loss", "val_miou", "val_road_iou") if k in m
        ]
        self._emit(
            "validate",
            trainer.current_epoch + 1,
            self.epochs,
            f"epoch {trainer.current_epoch + 1}: " + ", ".join(parts),
        )
