"""Running the network on batches of tiles: device, precision, channels_last, TTA."""

from __future__ import annotations

import numpy as np
import torch

from roadseg.device import ComputePolicy
from roadseg.models import RoadNet

#: Test-time augmentation: flips as (dims to flip) applied to B×C×H×W tensors.
TTA_FLIPS: tuple[tuple[int, ...], ...] = ((), (3,), (2,), (2, 3))


class TilePredictor:
    """Class probabilities for batches of tiles.

    Args:
        model: The network (any device; it is moved to the policy's device).
        policy: Device, autocast dtype and memory format.
        tta: Average the predictions of the four flips (4× the compute).

    """

    def __init__(self, model: RoadNet, policy: ComputePolicy, tta: bool = False) -> None:
        self.policy = policy
        self.tta = tta
        self.model = model.eval().to(policy.device).to(memory_format=policy.memory_format)

    @property
    def output_stride(self) -> int:
        """Tile sides must be multiples of this."""
        return int(getattr(self.model, "output_stride", 32))

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities (B, K, H, W) float32 for tiles (B, C, H, W) in [0, 1]."""
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        x = x.to(self.policy.device, non_blocking=True).contiguous(
            memory_format=self.policy.memory_format
        )
        with torch.inference_mode(), self.policy.autocast():
            if not self.tta:
                p = self.model.predict_proba(x)
            else:
                p = torch.zeros((), device=x.device)
                for dims in TTA_FLIPS:
                    xi = torch.flip(x, dims) if dims else x
                    pi = self.model.predict_proba(xi)
                    p = p + (torch.flip(pi, dims) if dims else pi)
                p = p / len(TTA_FLIPS)
        # Contiguous (N, K, H, W) for the numpy blending (channels_last output is strided).
        return p.float().contiguous().cpu().numpy()
