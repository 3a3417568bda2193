"""IQPFR model code (pure PyTorch, no Qt)."""

from app.model.checkpoint import ModelInfo, load_checkpoint, save_checkpoint
from app.model.config import IQPFRConfig
from app.model.default_model import DEFAULT_WEIGHTS_FILE, load_model, untrained_model
from app.model.iqpfr import IQPFR, EncodedFaces, Restoration
from app.model.transformer import quality_to_bin

__all__ = [
    "DEFAULT_WEIGHTS_FILE",
    "IQPFR",
    "EncodedFaces",
    "IQPFRConfig",
    "ModelInfo",
    "Restoration",
    "load_checkpoint",
    "load_model",
    "quality_to_bin",
    "save_checkpoint",
    "untrained_model",
]
