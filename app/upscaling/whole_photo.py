"""What the whole photo gets besides its faces: the output scale and whether its background is enhanced.

Kept apart from `app.upscaling.background` (torch, OpenCV) so that the command line can offer these choices
without loading them.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import StudioError

SCALES = (1, 2, 4)
NO_BACKGROUND, REALESRGAN = "none", "realesrgan"
BACKGROUNDS = (REALESRGAN, NO_BACKGROUND)


@dataclass(frozen=True)
class WholePhotoSettings:
    """The output's scale and whether the background is enhanced; the default changes nothing."""

    upscale: int = 1
    background: str = NO_BACKGROUND

    def __post_init__(self) -> None:
        if isinstance(self.upscale, bool) or self.upscale not in SCALES:
            raise StudioError(f"The output scale must be 1, 2 or 4, not {self.upscale!r}.")
        if self.background not in BACKGROUNDS:
            raise StudioError(f"The background must be one of {', '.join(BACKGROUNDS)}, not {self.background!r}.")

    @property
    def enhanced(self) -> bool:
        return self.background == REALESRGAN

    @property
    def changes_photo(self) -> bool:
        """False for 1× without enhancement: the photo is output as it is (only its faces restored)."""
        return self.upscale != 1 or self.enhanced

    def describe(self) -> str:
        """'2×, background enhanced (Real-ESRGAN)' / '1×'."""
        return f"{self.upscale}×" + (", background enhanced (Real-ESRGAN)" if self.enhanced else "")
