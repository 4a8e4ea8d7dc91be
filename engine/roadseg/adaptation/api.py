"""``roadseg.adapt``: fine-tune a model on roads the user already has, within a time budget.

One call, in order (each step reports progress under its stage name):

1. ``prepare`` — labels rasterised per raster where they are complete, a spatial
   hold-out of blocks chosen (:mod:`.prepare`, :mod:`.holdout`), the machine probed and
   the settings chosen (:mod:`.probe`, :mod:`.plan`);
2. ``before`` — road IoU of the starting model on the hold-out, at its own threshold and at
   the threshold best for it there (:mod:`.score`);
3. ``train`` / ``validate`` — fine-tuning with the public training API, steps planned on
   the measured step rate to end at the deadline, the best validation kept (:mod:`.budget`);
4. ``after`` — road IoU of the adapted model on the same hold-out;
5. ``write`` — the adapted model when it is better by at least ``min_gain`` than both
   figures of the start (its threshold is chosen on the hold-out, so the start's best
   threshold there is the fair bar), else the starting model unchanged; both carry the
   figures (``training.adapt`` in the metadata, :mod:`.output`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from roadseg.adaptation.job import Job, run
from roadseg.adaptation.options import AdaptOptions
from roadseg.adaptation.prepare import pair_inputs
from roadseg.adaptation.result import AdaptResult
from roadseg.errors import (
    CancelledError,
    ConfigError,
    InputNotFoundError,
    OutputError,
    about,
)
from roadseg.geo.atomic import check_writable
from roadseg.models import load_model, resolve_model_path
from roadseg.options import with_overrides
from roadseg.progress import CancelCallback, ProgressCallback, Reporter

PathLike = str | os.PathLike[str]
#: Name prefix of the temporary work folder (in the system's temporary folder).
WORK_PREFIX = "roadseg-adapt-"


def _paths(v: PathLike | Sequence[PathLike] | None) -> list[Path]:
    if v is None:
        return []
    if isinstance(v, str | os.PathLike):
        return [Path(v)]
    return [Path(p) for p in v]


def _pairs(
    rasters: list[Path], labels: list[Path], dataset: PathLike | None, opts: AdaptOptions
) -> tuple[tuple[Path, Path], ...]:
    """The (image, labels) pairs of the inputs, checked."""
    if dataset is not None:
        from roadseg.data.layouts import find_pairs

        if rasters or labels:
            raise ConfigError(
                "give either `rasters` with `labels`, or a `dataset` of image/mask pairs, not both",
                param="dataset",
                value=str(dataset),
            )
        if opts.area is not None:
            raise ConfigError(
                "`area` needs georeferenced `rasters`, not a `dataset` (its images count as "
                "labelled everywhere)",
                param="area",
                value=str(opts.area),
            )
        with about("dataset"):
            _, found = find_pairs(dataset)
        return tuple((p.image, p.mask) for p in found)
    pairs = pair_inputs(rasters, labels)
    for r, lab in pairs:
        if not r.exists():
            raise InputNotFoundError(
                f"raster {str(r)!r} does not exist",
                param="rasters",
                value=str(r),
                hint="check the path",
            )
        if not lab.exists():
            raise InputNotFoundError(
                f"labels {str(lab)!r} do not exist",
                param="labels",
                value=str(lab),
                hint="check the path",
            )
    return tuple(pairs)


def _device(device: str) -> str:
    """The torch device string for ``device`` (the engine's one rule: :func:`resolve_device`)."""
    from roadseg.device import resolve_device

    return str(resolve_device(device))


def _work_dir(work_dir: Path | None) -> tuple[Path, bool]:
    """The work folder and whether it is temporary (removed at the end)."""
    if work_dir is None:
        return Path(tempfile.mkdtemp(prefix=WORK_PREFIX)), True
    if work_dir.exists() and (not work_dir.is_dir() or any(work_dir.iterdir())):
        raise ConfigError(
            f"`work_dir` {str(work_dir)!r} is not an empty folder",
            param="work_dir",
            value=str(work_dir),
            hint="give a new folder",
        )
    with about("work_dir"):
        work_dir.mkdir(parents=True, exist_ok=True)
    return work_dir, False


def adapt(
    rasters: PathLike | Sequence[PathLike] = (),
    labels: PathLike | Sequence[PathLike] = (),
    out: PathLike | None = None,
    *,
    model: PathLike = "default",
    dataset: PathLike | None = None,
    options: AdaptOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    **overrides: Any,
) -> AdaptResult:
    """Adapt a road model to an area from roads the user already has; write a model file.

    >>> from roadseg.api import adapt                                      # doctest: +SKIP
    >>> r = adapt("a.tif", "osm.gpkg", "mine.safetensors", minutes=5)  # doctest: +SKIP
    >>> r.before, r.after, r.kept                                        # doctest: +SKIP

    Args:
        rasters: Georeferenced imagery (any CRS), or plain images with ``gsd``.
        labels: Road lines or polygons (any CRS; one file for all rasters or one per
            raster), or masks (one per raster).
        out: The model file to write (``.safetensors``).
        model: The starting model: ``default`` or a model file.
        dataset: A folder of plain image/mask pairs instead of ``rasters``/``labels``.
        options: An :class:`~roadseg.adaptation.options.AdaptOptions` (default: all defaults).
        progress: Called with progress events (stages ``prepare``, ``before``, ``train``,
            ``validate``, ``after``, ``write``).
        cancel: Returns True to stop (:class:`~roadseg.errors.CancelledError`; nothing written).
        **overrides: Fields of :class:`~roadseg.adaptation.options.AdaptOptions`
            (``area=``, ``minutes=``, ``steps=``, ``class_field=``...).

    Returns:
        An :class:`~roadseg.adaptation.result.AdaptResult`.

    """
    t0 = time.monotonic()
    rep = Reporter(progress, cancel)
    opts = with_overrides(options, AdaptOptions, overrides)
    if out is None or Path(out).suffix.lower() != ".safetensors":
        raise ConfigError(
            f"`out` {None if out is None else str(out)!r} must be a model file name ending in "
            ".safetensors",
            param="out",
            value=None if out is None else str(out),
        )
    out_p = Path(out)
    pairs = _pairs(_paths(rasters), _paths(labels), dataset, opts)
    if out_p.exists() and not opts.overwrite:  # before check_writable makes any folder
        raise OutputError(
            f"{str(out_p)!r} already exists",
            param="out",
            value=str(out_p),
            hint="give `overwrite` to replace it, or choose another `out`",
        )
    with about("out"):
        check_writable(out_p)
    device = _device(opts.device)
    with about("model"):
        parent_path = resolve_model_path(model)
        net, meta = load_model(model)
    work, temporary = _work_dir(opts.work_dir)
    import torch

    torch_threads = torch.get_num_threads()
    job = Job(
        pairs,
        Path(dataset) if dataset is not None else None,
        out_p,
        str(model),
        parent_path,
        net,
        meta,
        device,
        opts,
        work,
        None if temporary else work,
        rep,
        cancel,
        t0,
    )
    try:
        return run(job)
    except CancelledError:
        raise CancelledError("adapt cancelled; nothing was written") from None
    finally:
        torch.set_num_threads(torch_threads)
        if temporary:
            shutil.rmtree(work, ignore_errors=True)
