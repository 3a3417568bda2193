"""IQPFR Studio: blind face restoration with an image-quality prior."""

__version__ = "0.1.0"
APP_NAME = "IQPFR Studio"
