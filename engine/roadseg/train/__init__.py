"""Training: streamed windows from big rasters, Lightning loop, a roadseg model file out.

>>> from roadseg.train import train                                  # doctest: +SKIP
>>> r = train(image=["a.tif"], labels=["roads.gpkg"], out="run", epochs=5)  # doctest: +SKIP
>>> r.model_path, r.metrics["miou"]                                  # doctest: +SKIP
"""

from roadseg.train.api import TrainResult, train
from roadseg.train.config import TrainConfig

__all__ = ["TrainConfig", "TrainResult", "train"]
