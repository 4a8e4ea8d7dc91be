"""Models: the smp-based network factory and the model file."""

from roadseg.models.factory import ARCHITECTURES, RoadNet, list_encoders
from roadseg.models.modelfile import (
    FORMAT_VERSION,
    ModelMeta,
    build_model,
    list_embedded,
    load_model,
    read_meta,
    resolve_model_path,
    save_model,
)

__all__ = [
    "ARCHITECTURES",
    "FORMAT_VERSION",
    "ModelMeta",
    "RoadNet",
    "build_model",
    "list_embedded",
    "list_encoders",
    "load_model",
    "read_meta",
    "resolve_model_path",
    "save_model",
]
