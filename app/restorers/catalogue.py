"""The official public face-restoration files IQPFR Studio knows by name (facts from their releases).

Only the first 8 hex digits of each file's SHA-256 are published (Git-LFS pointer pages); a
download or an added file is checked against its exact size and that prefix.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogueEntry:
    name: str  # what users type: `--model gfpgan-1.4`
    file_name: str  # the official file name, also its name in the models folder
    architecture: str  # spandrel's architecture id
    size: int  # bytes
    sha256_prefix: str
    url: str
    licence: str
    commercial_use: bool
    description: str

    @property
    def title(self) -> str:
        """'GFPGAN v1.4 face restorer': the description up to its first comma."""
        return self.description.split(",")[0]

    def matches(self, size: int, sha256: str) -> bool:
        return size == self.size and sha256.lower().startswith(self.sha256_prefix)


_GFPGAN_LICENCE = "Apache-2.0 code; third-party parts (StyleGAN2, DFDNet) are non-commercial"

CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry(
        "gfpgan-1.4",
        "GFPGANv1.4.pth",
        "GFPGAN",
        348_632_874,
        "e2cd4703",
        "https://github.com/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.4.pth",
        _GFPGAN_LICENCE,
        False,
        "GFPGAN v1.4 face restorer, 512 px (slider: strength)",
    ),
    CatalogueEntry(
        "gfpgan-1.3",
        "GFPGANv1.3.pth",
        "GFPGAN",
        348_632_874,
        "c953a88f",
        "https://github.com/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.3.pth",
        _GFPGAN_LICENCE,
        False,
        "GFPGAN v1.3 face restorer, 512 px (slider: strength)",
    ),
    CatalogueEntry(
        "restoreformer",
        "RestoreFormer.pth",
        "RestoreFormer",
        290_785_322,
        "07404d44",
        "https://github.com/TencentARC/GFPGAN/releases/download/v1.3.4/RestoreFormer.pth",
        "Apache-2.0",
        True,
        "RestoreFormer face restorer, 512 px (slider: strength)",
    ),
    CatalogueEntry(
        "codeformer",
        "codeformer.pth",
        "CodeFormer",
        376_637_898,
        "1009e537",
        "https://github.com/sczhou/CodeFormer/releases/download/v0.1.0/codeformer.pth",
        "NTU S-Lab License 1.0: non-commercial use only",
        False,
        "CodeFormer face restorer, 512 px (slider: fidelity weight w)",
    ),
)


def find_entry(name: str) -> CatalogueEntry | None:
    """The entry called `name` (case-insensitive), by catalogue name or official file name."""
    wanted = name.strip().lower()
    for entry in CATALOGUE:
        if wanted in (entry.name, entry.file_name.lower()):
            return entry
    return None


def entry_for_content(size: int, sha256: str) -> CatalogueEntry | None:
    """The official file with this size and checksum, if any."""
    return next((entry for entry in CATALOGUE if entry.matches(size, sha256)), None)
