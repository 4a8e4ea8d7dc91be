"""Streaming training data: scenes read window by window, spatial splits, samplers, augmentation."""

from roadseg.data.augment import AugmentConfig
from roadseg.data.datasets import TrainWindows, ValWindows
from roadseg.data.plan import WindowPlan, split_scene
from roadseg.data.sampler import ShardSampler, WindowSampler
from roadseg.data.scene import IGNORE_INDEX, Sample, Scene

__all__ = [
    "IGNORE_INDEX",
    "AugmentConfig",
    "Sample",
    "Scene",
    "ShardSampler",
    "TrainWindows",
    "ValWindows",
    "WindowPlan",
    "WindowSampler",
    "split_scene",
]
