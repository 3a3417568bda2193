"""The real window, once: X11 (Qt's xcb plugin) under Xvfb, as a user starts it (issue 10).

The other GUI tests run offscreen, which needs none of the system libraries the real window needs;
these tests catch a setup that cannot open the window ("Could not load the Qt platform plugin xcb").
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, WHOLE_PHOTOS, shared

SMOKE_SCRIPT = REPO / "scripts" / "smoke_real_window.py"
XVFB_RUN = shutil.which("xvfb-run")
needs_xvfb = pytest.mark.skipif(
    XVFB_RUN is None,
    reason="xvfb-run is missing: install the 'xvfb' and 'xauth' packages "
    "(bash scripts/setup.sh does) to test the real window",
)


def _run_real_window(photo, *extra, env_extra=None, timeout=1200):
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM="xcb", **(env_extra or {}))
    command = [XVFB_RUN, "-a", "-s", "-screen 0 1440x900x24", sys.executable, str(SMOKE_SCRIPT), str(photo), *extra]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


@needs_xvfb
@pytest.mark.slow
def test_real_window_opens_a_photo_restores_it_and_quits(tmp_path):
    screenshot = tmp_path / "window.png"
    run = _run_real_window(
        shared(WHOLE_PHOTOS / "Blake_Lively.jpg"), "--screenshot", str(screenshot), "--timeout", "900"
    )
    assert run.returncode == 0, f"the real window failed (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
    assert "Qt platform: xcb" in run.stdout
    assert "Restored 2 face(s)" in run.stdout
    # the screenshot is read back from the X server: the window with both photos is on the screen
    pixels = np.asarray(Image.open(screenshot).convert("RGB"))
    assert pixels.shape == (900, 1440, 3)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 5000


@needs_xvfb
def test_real_window_run_fails_when_the_xcb_plugin_cannot_load(tmp_path):
    """What a machine without libxcb-cursor0 does: the run must fail, not pass by falling back."""
    broken = tmp_path / "lib"
    broken.mkdir()
    (broken / "libxcb-cursor.so.0").write_bytes(b"")  # found first, cannot be loaded
    run = _run_real_window(
        shared(WHOLE_PHOTOS / "Blake_Lively.jpg"),
        "--timeout",
        "5",
        env_extra={"LD_LIBRARY_PATH": str(broken)},
        timeout=300,
    )
    assert run.returncode != 0
    assert 'Could not load the Qt platform plugin "xcb"' in run.stderr
