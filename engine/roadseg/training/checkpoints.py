"""Checking a training checkpoint before resuming from it.

A checkpoint that is truncated, corrupt, or was not written by training (a plain
pickle needs code execution to load, which roadseg never does) is named with the
fix before any work starts, in one line, instead of PyTorch's multi-line text.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

from roadseg.errors import ModelFileError

#: Keys every Lightning training checkpoint holds.
REQUIRED_KEYS = ("state_dict", "epoch", "global_step")


def check_checkpoint(path: str | os.PathLike[str], param: str = "resume") -> None:
    """Load ``path`` the way resuming will (tensors only, memory-mapped) and check its keys.

    Raises:
        ModelFileError: naming the checkpoint and the fix when it cannot be used.

    """
    import torch

    p = Path(path)
    fix = _fix(p, param)
    if p.stat().st_size == 0:
        raise ModelFileError(
            f"the checkpoint {str(p)!r} is empty (the run was stopped while writing it?)",
            param=param,
            value=str(p),
            hint=fix,
        )
    try:
        ckpt: Any = torch.load(p, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError:
        raise ModelFileError(
            f"the checkpoint {str(p)!r} was not written by roadseg training (it would need "
            "code execution to load)",
            param=param,
            value=str(p),
            hint=fix,
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        if "mmap can only be used" in str(exc):
            raise ModelFileError(
                f"the checkpoint {str(p)!r} was not written by roadseg training (not in "
                "PyTorch's zip format)",
                param=param,
                value=str(p),
                hint=fix,
            ) from None
        raise ModelFileError(
            f"the checkpoint {str(p)!r} is truncated or corrupt ({_reason(exc)})",
            param=param,
            value=str(p),
            hint=fix,
        ) from None
    missing = [k for k in REQUIRED_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise ModelFileError(
            f"the checkpoint {str(p)!r} is not a training checkpoint (no {missing[0]!r})",
            param=param,
            value=str(p),
            hint=fix,
        )


def _fix(p: Path, param: str) -> str:
    best = p.with_name("best.ckpt")
    if p.name != best.name and best.is_file():
        return f"copy {str(best)!r} over it to resume from the best epoch, or start a new run"
    return "start a new run with another `out`"


def _reason(exc: BaseException) -> str:
    r"""The first line of a loader's error, without PyTorch's advice paragraphs.

    >>> _reason(RuntimeError("PytorchStreamReader failed reading zip archive: failed finding "
    ...                      "central directory\nmore"))
    'PytorchStreamReader failed reading zip archive: failed finding central directory'
    """
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
