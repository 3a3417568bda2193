"""Shared fixtures. Everything runs offline and on the CPU; real photos come from ../shared/data."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["IQPFR_OFFLINE"] = "1"

from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
TEST_DATA = SHARED_DATA / "test"
SHARED_WEIGHTS = REPO.parent / "shared" / "weights"
WHOLE_PHOTOS = TEST_DATA / "gfpgan-inputs" / "whole_imgs"

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def shared(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"test data missing: {path} (the repo expects ../shared beside it)")
    return path


@pytest.fixture(autouse=True)
def isolated_model_dirs(tmp_path_factory, monkeypatch):
    """Point the user model folder at an empty temp dir so tests never see a user's files."""
    models = tmp_path_factory.mktemp("user-models")
    monkeypatch.setenv("IQPFR_MODELS_DIR", str(models))
    return models


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory, monkeypatch):
    """Settings (QSettings, app.gui.settings_store) and the per-user cache go to temp folders: tests never read or
    write a user's settings, and every test starts with none."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("settings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    monkeypatch.setenv("IQPFR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    return folder


@pytest.fixture(autouse=True)
def isolated_log(tmp_path_factory, monkeypatch):
    """The log goes to a temp folder, and what `iqpfr`/`iqpfr-studio` set up (log handlers, exception hooks)
    is undone after each test. Returns the log folder."""
    import sys
    import threading

    from app.logging_setup import shutdown_logging

    folder = tmp_path_factory.mktemp("log")
    monkeypatch.setenv("IQPFR_LOG_DIR", str(folder))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    yield folder
    shutdown_logging()


@pytest.fixture
def tiny_upscaler(monkeypatch):
    """Every BackgroundEnhancer runs a tiny random RRDBNet (1 block, 8 features, 96-px tiles) in place of
    Real-ESRGAN, which takes minutes per megapixel on a CPU. Returns that runtime."""
    from app.upscaling.background import BackgroundEnhancer
    from app.upscaling.runtime import TorchRuntime, build_rrdbnet
    from ncnn_writer import random_rrdbnet_state

    runtime = TorchRuntime(build_rrdbnet(random_rrdbnet_state(1, features=8)), torch.device("cpu"))
    runtime.tile = 96
    monkeypatch.setattr(BackgroundEnhancer, "runtime", property(lambda self: runtime))
    return runtime


@pytest.fixture(scope="session")
def restorer():
    from app.faces import create_detector
    from app.model import untrained_model
    from app.pipeline import FaceRestorer

    model, info = untrained_model()
    return FaceRestorer(model, info, create_detector("mtcnn"), "cpu")


@pytest.fixture(scope="session")
def blake_photo_path() -> Path:
    return shared(WHOLE_PHOTOS / "Blake_Lively.jpg")


@pytest.fixture
def face_photo_rgb(blake_photo_path) -> np.ndarray:
    from app.photo_io import load_photo

    return load_photo(blake_photo_path).pixels


def fidelity_model(fidelity_scales=None):
    """A random-weight model whose fidelity path does something: FidelityFusion's last convs start
    at zero (fidelity has no effect), so they get small random weights here. fidelity_scales=()
    gives a model without the path, like weights format 1."""
    from app.model import IQPFRConfig, untrained_model

    cfg = IQPFRConfig() if fidelity_scales is None else IQPFRConfig(fidelity_scales=fidelity_scales)
    model, info = untrained_model(cfg)
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for fusion in model.decoder.fusion.values():
            for conv in (fusion.scale, fusion.shift):
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * 0.05)
    return model, info


class CodeInPickle:
    """A pickle that runs code when fully unpickled: it sets `ran`. Loaders must refuse it unrun."""

    ran = False

    def __reduce__(self):
        return (_run_pickled_code, ())


def _run_pickled_code():
    CodeInPickle.ran = True
    return {}
