"""Errors that carry a message meant for the person using the app."""


class StudioError(Exception):
    """Base class: str(error) is a complete, user-readable sentence."""


class ImageLoadError(StudioError):
    """A file could not be read as a photo."""


class ImageSaveError(StudioError):
    """A result could not be written (or writing it would lose the original)."""


class WeightsMissingError(StudioError):
    """A model weight file is not on this machine and could not be fetched."""


class CheckpointError(StudioError):
    """A weights file exists but is not a usable IQPFR Studio checkpoint."""


class QualityMetricError(StudioError):
    """An image-quality metric is unknown or cannot run here."""


class TrainingSetupError(StudioError):
    """A training run cannot start or resume: missing config, data or state."""
