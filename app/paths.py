"""Where model files and the log live, and whether the app may use the network."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir, user_log_dir

from app import APP_NAME

ENV_MODELS_DIR = "IQPFR_MODELS_DIR"
ENV_OFFLINE = "IQPFR_OFFLINE"
ENV_LOG_DIR = "IQPFR_LOG_DIR"
ENV_CACHE_DIR = "IQPFR_CACHE_DIR"


def install_root() -> Path:
    """The source checkout, or the unpacked PyInstaller bundle."""
    bundle_root = getattr(sys, "_MEIPASS", None)
    return Path(bundle_root) if bundle_root else Path(__file__).resolve().parent.parent


def bundled_models_dir() -> Path:
    """The `models/` folder shipped with the app."""
    return install_root() / "models"


def resources_dir() -> Path:
    return install_root() / "resources"


def user_models_dir() -> Path:
    """Per-user folder for downloaded or user-supplied weights ($IQPFR_MODELS_DIR overrides it)."""
    override = os.environ.get(ENV_MODELS_DIR)
    if override:
        return Path(override)
    return Path(user_data_dir(APP_NAME, appauthor=False)) / "models"


def log_dir() -> Path:
    """Per-user folder for the log file ($IQPFR_LOG_DIR overrides it; e.g. ~/.local/state/IQPFR Studio/log)."""
    override = os.environ.get(ENV_LOG_DIR)
    return Path(override) if override else Path(user_log_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Per-user folder for files the app makes for itself, e.g. pasted images ($IQPFR_CACHE_DIR overrides it;
    e.g. ~/.cache/IQPFR Studio)."""
    override = os.environ.get(ENV_CACHE_DIR)
    return Path(override) if override else Path(user_cache_dir(APP_NAME, appauthor=False))


def model_search_dirs() -> list[Path]:
    """Folders searched for weight files, in priority order."""
    return [user_models_dir(), bundled_models_dir()]


def find_model_file(file_name: str) -> Path | None:
    """First existing `file_name` among the model folders, or None."""
    for folder in model_search_dirs():
        candidate = folder / file_name
        if candidate.is_file():
            return candidate
    return None


def offline_mode() -> bool:
    """True when downloads must not be attempted (tests, air-gapped machines)."""
    for name in (ENV_OFFLINE, "HF_HUB_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}:
            return True
    return False
