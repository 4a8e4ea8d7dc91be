"""The LightningModule: a RoadNet, its loss, device-side augmentation and validation metrics."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch

from roadseg.data.augment import apply_batch
from roadseg.errors import TrainingDivergedError
from roadseg.models.factory import RoadNet
from roadseg.models.freeze import apply_freeze, keep_frozen_norms_in_eval
from roadseg.training.losses import SegLoss
from roadseg.training.metrics import confusion_matrix, metrics_from_confusion
from roadseg.training.road_stats import BINS, best_threshold, decide_classes, histogram_update

IGNORE_INDEX = 255


class SegmentationTask(L.LightningModule):
    """Train a :class:`RoadNet` on streamed windows.

    Args:
        net: The network (its input is scaled imagery in [0, 1]).
        class_names: Classes, background first.
        loss: The loss module.
        lr: Peak learning rate.
        weight_decay: AdamW weight decay.
        schedule: ``cosine`` (warm-up then cosine decay), ``onecycle`` or ``constant``.
        warmup: Warm-up fraction of the total steps.
        augment_on_device: Apply the batch's augmentation parameters here (torch/kornia).
        channels_last: Channels-last memory format for the network and inputs.
        trainable_stages: Encoder freezing (None: all trainable; 0: frozen; N: last N stages).
        source_names: Names of the training sources, for per-source validation metrics
            (``val_road_iou_<name>``); empty for a single source.

    """

    class_pixels: torch.Tensor

    def __init__(
        self,
        net: RoadNet,
        class_names: Sequence[str],
        loss: SegLoss,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        schedule: str = "cosine",
        warmup: float = 0.05,
        augment_on_device: bool = True,
        channels_last: bool = True,
        trainable_stages: int | None = None,
        source_names: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.source_names = list(source_names)
        self._hist: torch.Tensor | None = None
        self.net = net
        self.class_names = list(class_names)
        self.num_classes = len(class_names)
        self.loss_fn = loss
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.schedule = schedule
        self.warmup = float(warmup)
        self.augment_on_device = augment_on_device
        self.channels_last = channels_last
        self.register_buffer("class_pixels", torch.zeros(self.num_classes, dtype=torch.int64))
        self._cm: torch.Tensor | None = None
        self._val_loss: list[torch.Tensor] = []
        self._val_count = 0
        self.last_metrics: dict[str, Any] = {}
        self.frozen: list[torch.nn.Module] = []
        self.set_freeze(trainable_stages)
        if channels_last:
            self.net.to(memory_format=torch.channels_last)

    # ------------------------------------------------------------------ freezing
    def set_freeze(self, trainable_stages: int | None) -> None:
        """Freeze the encoder (see :func:`roadseg.models.freeze.apply_freeze`)."""
        in_ch = int(self.net.mean.shape[1])
        self.frozen = apply_freeze(self.net.encoder, trainable_stages, in_ch)
        if self.training:
            keep_frozen_norms_in_eval(self.frozen)

    def on_train_epoch_start(self) -> None:
        """Keep frozen batch norms in eval mode (Lightning calls ``train()`` each epoch)."""
        keep_frozen_norms_in_eval(self.frozen)

    # ------------------------------------------------------------------ batches
    def on_after_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, Any]:
        """Augment on the device (training only); masks to int64; channels-last images."""
        image, mask = batch["image"], batch["mask"].long()
        if self.trainer is not None and self.trainer.training and self.augment_on_device:
            image, mask = apply_batch(image, mask, batch["aug"])
        if self.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        return {**batch, "image": image, "mask": mask}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits."""
        return self.net(x)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        """One optimisation step's loss."""
        mask = batch["mask"]
        logits = self.net(batch["image"])
        loss = self.loss_fn(logits, mask)
        self._check_finite(loss, batch["image"])
        with torch.no_grad():
            m = mask[mask != IGNORE_INDEX]
            self.class_pixels += torch.bincount(m.reshape(-1), minlength=self.num_classes)[
                : self.num_classes
            ]
        self.log(
            "train_loss",
            loss.detach(),
            prog_bar=True,
            on_step=True,
            on_epoch=True,
            batch_size=mask.shape[0],
        )
        return loss

    def _check_finite(self, loss: torch.Tensor, image: torch.Tensor) -> None:
        """Stop before the backward pass (no NaN reaches the weights) when the loss is not finite.

        Decided over all ranks, so every process stops at the same step.
        """
        bad = not bool(torch.isfinite(loss.detach()).all())
        if self.trainer is not None:
            bad = bool(self.trainer.strategy.reduce_boolean_decision(bad, all=False))
        if not bad:
            return
        where = f"step {int(self.global_step) + 1} (epoch {int(self.current_epoch) + 1})"
        if not bool(torch.isfinite(image).all()):
            raise TrainingDivergedError(
                f"training stopped: the input imagery holds NaN/inf values at {where}; "
                "check the rasters' nodata and value scaling (`roadseg info RASTER`)"
            )
        raise TrainingDivergedError(
            f"training diverged: the loss became {float(loss.detach().float().mean())} at {where}",
            param="optim.lr",
            value=self.lr,
            hint=f"lower `optim.lr` (now {self.lr:g}, e.g. {self.lr / 10:g}) or check the imagery "
            "scaling (`roadseg info RASTER`)",
        )

    def predict_classes(self, logits: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
        """Class ids from logits: road where the summed road probability ≥ ``threshold``."""
        return decide_classes(logits, threshold)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """Accumulate the confusion matrix, the road-probability histograms and the loss.

        Padding windows (``key`` −1: a rank that had no window of its own) are left out.
        """
        keys = batch.get("key")
        if isinstance(keys, torch.Tensor) and bool((keys < 0).any()):
            keep = keys >= 0
            if not bool(keep.any()):
                return
            batch = {k: (v[keep] if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
        mask = batch["mask"]
        logits = self.net(batch["image"])
        self._val_loss.append(self.loss_fn(logits, mask).detach().float() * mask.shape[0])
        cm = confusion_matrix(self.predict_classes(logits), mask, self.num_classes, IGNORE_INDEX)
        self._cm = cm if self._cm is None else self._cm + cm
        n_src = max(1, len(self.source_names))
        if self._hist is None:
            self._hist = torch.zeros(n_src, 2, BINS, dtype=torch.long, device=logits.device)
        source = batch.get("source")
        if not isinstance(source, torch.Tensor):
            source = torch.zeros(mask.shape[0], dtype=torch.long, device=mask.device)
        self._hist = histogram_update(self._hist, logits.detach(), mask, source.to(mask.device))
        self._val_count += mask.shape[0]

    def on_validation_epoch_start(self) -> None:
        """Reset the accumulators."""
        self._cm = None
        self._hist = None
        self._val_loss = []
        self._val_count = 0

    def on_validation_epoch_end(self) -> None:
        """Reduce over ranks, compute and log the metrics."""
        cm = (
            self._cm
            if self._cm is not None
            else torch.zeros(
                self.num_classes, self.num_classes, dtype=torch.long, device=self.device
            )
        )
        loss_sum = (
            torch.stack(self._val_loss).sum()
            if self._val_loss
            else torch.zeros((), device=self.device)
        )
        n = torch.tensor(float(self._val_count), device=self.device)
        cm = self.trainer.strategy.reduce(cm, reduce_op="sum")
        loss_sum = self.trainer.strategy.reduce(loss_sum, reduce_op="sum")
        n = self.trainer.strategy.reduce(n, reduce_op="sum")
        n_src = max(1, len(self.source_names))
        hist = (
            self._hist
            if self._hist is not None
            else torch.zeros(n_src, 2, BINS, dtype=torch.long, device=self.device)
        )
        hist = self.trainer.strategy.reduce(hist, reduce_op="sum")
        m = metrics_from_confusion(cm.cpu().numpy(), self.class_names)
        m["loss"] = float(loss_sum / n.clamp_min(1))
        m.update(road_metrics(hist.cpu().numpy(), self.source_names))
        logged = {
            f"val_{k}": float(v)
            for k, v in m.items()
            if isinstance(v, int | float) and k != "pixels"
        }
        logged = {k: (0.0 if math.isnan(v) else v) for k, v in logged.items()}
        miou = logged.pop("val_miou")
        self.log_dict(logged, prog_bar=False, sync_dist=False)
        self.log("val_miou", miou, prog_bar=True)
        self.last_metrics = {
            **m,
            "confusion": cm.cpu().numpy().tolist(),
            "road_histogram": hist.cpu().numpy().tolist(),
        }

    # ------------------------------------------------------------------ optimiser
    def configure_optimizers(self) -> Any:
        """AdamW over all parameters (frozen ones get no gradient) with the LR schedule."""
        opt = torch.optim.AdamW(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        if self.schedule == "constant":
            return opt
        total = max(1, int(self.trainer.estimated_stepping_batches))
        if self.schedule == "onecycle":
            sched: Any = torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=self.lr, total_steps=total, pct_start=max(self.warmup, 0.01)
            )
        else:
            # A partial keeps no state in the checkpoint: a resumed run with more epochs
            # re-plans the decay.
            warm = max(0, int(round(self.warmup * total)))
            sched = torch.optim.lr_scheduler.LambdaLR(
                opt, functools.partial(warmup_cosine, total=total, warm=warm)
            )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Let a resumed run re-plan OneCycle over its (possibly longer) new step count."""
        for st in checkpoint.get("lr_schedulers", []):
            if "total_steps" in st and "_schedule_phases" in st:
                st.pop("total_steps")
                st.pop("_schedule_phases")

    def class_pixel_counts(self) -> list[int]:
        """Labelled training pixels seen per class."""
        return [int(v) for v in self.class_pixels.cpu().numpy()]


def warmup_cosine(step: int, total: int, warm: int) -> float:
    """LR factor: linear warm-up over ``warm`` steps, then cosine decay to 1 % at ``total``.

    >>> warmup_cosine(0, 100, 10), warmup_cosine(10, 100, 10), round(warmup_cosine(100, 100, 10), 3)
    (0.1, 1.0, 0.01)
    """
    if warm and step < warm:
        return (step + 1) / warm
    t = min(1.0, (step - warm) / max(1, total - warm))
    return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t))


def road_metrics(hist: Any, source_names: Sequence[str]) -> dict[str, float]:
    """Road IoU per source at the best threshold, their mean, the threshold, the mean at 0.5.

    >>> import numpy as np
    >>> h = np.zeros((2, 2, BINS)); h[:, 0, 10] = 9; h[0, 1, 90] = 3; h[1, 1, 30] = 3
    >>> m = road_metrics(h, ["a", "b"])
    >>> m["road_threshold"], m["road_iou"], m["road_iou_a"], m["road_iou_t50"]
    (0.3, 1.0, 1.0, 0.5)
    """
    import numpy as np

    from roadseg.training.road_stats import iou_curve

    h = np.asarray(hist, dtype=np.float64)
    t, ious = best_threshold(h)
    has_road = h[:, 1].sum(axis=1) > 0
    at50 = iou_curve(h)[:, BINS // 2]

    def mean(v: Any) -> float:
        v = np.asarray(v, dtype=np.float64)[has_road]
        v = v[np.isfinite(v)]
        return float(v.mean()) if v.size else float("nan")

    out = {"road_threshold": float(t), "road_iou": mean(ious), "road_iou_t50": mean(at50)}
    if len(source_names) > 1:
        seen = h.sum(axis=(1, 2)) > 0  # sources without validation windows get no metric
        for name, v, ok in zip(source_names, ious, seen, strict=False):
            if ok:
                out[f"road_iou_{name}"] = float(v)
    return out
