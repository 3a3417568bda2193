"""A fast stand-in for FaceRestorer in batch tests, and a batch runner for tests that need a second process.

Run as a script: `python tests/batch_fakes.py INPUT OUTPUT [--overwrite] [--delay SECONDS]` runs
`iqpfr batch` with the fake restorer; it prints "restoring NAME" (flushed) as each photo starts.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import SimpleNamespace

FAKE_CAVEAT = "its output is only the photo inverted, for tests"


def fake_model_info(name: str = "fake restorer for tests", caveat: str = FAKE_CAVEAT) -> SimpleNamespace:
    """What a batch reads of a restorer's ModelInfo: its name and the caveat about its output."""
    return SimpleNamespace(name=lambda: name, caveat=caveat, describe=lambda: f"{name}: {caveat}")


class FakeRestorer:
    """'Restores' one face per photo by inverting it; raises the given error for chosen file names, and finds
    no face in the photos named in `no_faces`."""

    has_fidelity = False
    has_strength = False
    has_quality_score = True
    model_info = fake_model_info()

    def __init__(
        self,
        errors: dict[str, BaseException] | None = None,
        delay_s: float = 0.0,
        announce: bool = False,
        no_faces: set[str] = frozenset(),
        model: str = "",
    ) -> None:
        self.errors, self.delay_s, self.announce, self.no_faces = errors or {}, delay_s, announce, no_faces
        if model:
            self.model_info = fake_model_info(model)
        self.seen: list[str] = []

    def restore(self, photo, quality, fidelity, strength=None, whole=None, progress=None, should_stop=None):
        """`whole` is honoured by a plain resize (no network): the output has the asked scale."""
        name = photo.source_path.name
        self.seen.append(name)
        if self.announce:
            print(f"restoring {name}", flush=True)
        time.sleep(self.delay_s)
        if name in self.errors:
            raise self.errors[name]
        if whole is not None and whole.changes_photo:
            from app.upscaling.background import resize_plain  # here: run as a script, app is on the path only now

            photo = photo.with_pixels(resize_plain(photo.pixels, whole.upscale))
        if name in self.no_faces:
            return SimpleNamespace(photo=photo, restored_faces=[])
        return SimpleNamespace(photo=photo.with_pixels(255 - photo.pixels), restored_faces=[object()])


def _run_cli(argv: list[str]) -> int:
    from app import cli

    delay = 0.0
    if "--delay" in argv:
        index = argv.index("--delay")
        delay = float(argv[index + 1])
        del argv[index : index + 2]
    cli._make_restorer = lambda args: FakeRestorer(delay_s=delay, announce=True)
    return cli.main(["batch", *argv, "--no-progress"])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(_run_cli(sys.argv[1:]))
