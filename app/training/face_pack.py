"""Face packs: a training split's faces at the model size, their quality priors and the held-out faces in one file.

`iqpfr pack-faces` writes one from a training config (the same listing, split and priors that training from the
folders computes), so a training run can go where the face folders cannot, e.g. with the working tree to a lent GPU
machine (`iqpfr train-recipe`). A pack is an uncompressed .npz (nothing pickled) of JPEG-encoded faces, quality 95
with full-resolution chroma by default: about 9.7 MiB for the 1,040 training faces at 128 px, 43 dB PSNR against
the faces it was made from (measured on this data; PNG would take 29 MiB, lossless WebP 20 MiB and 20× longer to
write). The pack holds non-commercial research data: keep it in an ignored folder (runs/), never commit it.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from app.errors import TrainingSetupError
from app.fileutil import atomic_target
from app.training.config import TrainConfig
from app.training.data import ScoredFaces, load_face

PACK_FORMAT = "iqpfr-face-pack"
PACK_VERSION = 1


@dataclass
class FacePack:
    """What a pack holds: the training faces with their scores, the held-out faces, and how it was made."""

    train: ScoredFaces  # paths are the faces' names ("ffhq256/00001.jpg"); packed holds the images
    held_out_names: list[str]
    held_out: list[np.ndarray]
    size: int
    meta: dict = field(default_factory=dict)


def _encode(faces: list[np.ndarray], quality: int) -> tuple[np.ndarray, np.ndarray]:
    """JPEG bytes of every face (RGB), concatenated, and the offsets where each one starts (and the last ends)."""
    params = [
        cv2.IMWRITE_JPEG_QUALITY,
        quality,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
    ]
    encoded = []
    for face in faces:
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(face[:, :, ::-1]), params)
        if not ok:
            raise TrainingSetupError("A face could not be JPEG-encoded for the pack.")
        encoded.append(data.reshape(-1))
    offsets = np.cumsum([0, *(len(data) for data in encoded)]).astype(np.int64)
    return (np.concatenate(encoded) if encoded else np.zeros(0, np.uint8)), offsets


def _decode(data: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    faces = []
    for start, end in itertools.pairwise(offsets):
        bgr = cv2.imdecode(data[start:end], cv2.IMREAD_COLOR)
        if bgr is None:
            raise TrainingSetupError("The face pack is damaged: a face in it cannot be decoded.")
        faces.append(np.ascontiguousarray(bgr[:, :, ::-1]))
    return faces


def _names(paths: list[Path], cfg: TrainConfig) -> list[str]:
    """Each face's path below its data folder, led by the folder's name ("ffhq256/00001.jpg")."""
    names = []
    for path in paths:
        root = next(root for root in cfg.roots if path.is_relative_to(root))
        names.append((Path(root.name) / path.relative_to(root)).as_posix())
    return names


def write_pack(
    out: Path, faces: ScoredFaces, held_out_paths: list[Path], cfg: TrainConfig, size: int, quality: int, prior: str
) -> FacePack:
    """Pack the scored training faces of `cfg`'s data folders and its held-out faces at `size` px."""
    if not 1 <= quality <= 100:
        raise TrainingSetupError(f"JPEG quality must be 1 to 100, not {quality}.")
    train_faces = faces.images(size)
    held_out = [load_face(path, size) for path in held_out_paths]
    train_bytes, train_offsets = _encode(train_faces, quality)
    held_bytes, held_offsets = _encode(held_out, quality)
    meta = {
        "size": size,
        "encoding": f"JPEG quality {quality}, 4:4:4",
        "data_roots": cfg.data_roots,
        "held_out_fraction": cfg.held_out_fraction,
        "prior": prior,
        "train_faces": len(train_faces),
        "held_out_faces": len(held_out),
    }
    arrays = {
        "format": np.array(PACK_FORMAT),
        "version": np.array(PACK_VERSION),
        "meta": np.array(json.dumps(meta)),
        "train_names": np.array(_names(faces.paths, cfg), dtype=str),
        "train_bytes": train_bytes,
        "train_offsets": train_offsets,
        "raw": faces.raw.astype(np.float32),
        "prior": faces.prior.astype(np.float32),
        "held_out_names": np.array(_names(held_out_paths, cfg), dtype=str),
        "held_out_bytes": held_bytes,
        "held_out_offsets": held_offsets,
    }
    with atomic_target(out) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # the stub reads a **dict as possibly holding allow_pickle
    return read_pack(out)


def read_pack(path: Path) -> FacePack:
    """A pack written by `write_pack`; every way it can be wrong is a TrainingSetupError naming the file."""
    if not path.is_file():
        raise TrainingSetupError(f"Face pack {path} does not exist. Make it with: iqpfr pack-faces {path}")
    try:
        with np.load(path, allow_pickle=False) as contents:
            if str(contents["format"]) != PACK_FORMAT:
                raise ValueError("not a face pack")
            if int(contents["version"]) > PACK_VERSION:
                raise ValueError(f"pack version {int(contents['version'])} is newer than this app reads")
            arrays = {name: contents[name] for name in contents.files}
        meta = json.loads(str(arrays["meta"]))
        train = _decode(arrays["train_bytes"], arrays["train_offsets"])
        held_out = _decode(arrays["held_out_bytes"], arrays["held_out_offsets"])
        names = [str(name) for name in arrays["train_names"]]
        if not len(train) == len(names) == len(arrays["prior"]) == len(arrays["raw"]):
            raise ValueError("its lists of faces, names and priors differ in length")
    except TrainingSetupError:
        raise
    except Exception as exc:  # a truncated zip, a missing array, a foreign .npz
        raise TrainingSetupError(
            f"{path} is not a usable face pack ({exc}). Make it again with iqpfr pack-faces."
        ) from exc
    scored = ScoredFaces([Path(name) for name in names], arrays["raw"], arrays["prior"], packed=train)
    held_out_names = [str(name) for name in arrays["held_out_names"]]
    return FacePack(scored, held_out_names, held_out, int(meta["size"]), meta)


def pack_faces(pack: FacePack, size: int) -> ScoredFaces:
    """The pack's training faces for a model of `size` px (a pack cannot give faces larger than its own)."""
    if size > pack.size:
        raise TrainingSetupError(
            f"The face pack holds {pack.size}-px faces; this model needs {size} px. Pack again with --size {size}."
        )
    return pack.train
