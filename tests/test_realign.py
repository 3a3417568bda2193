"""Re-aligning face chips to the FFHQ template (app/training/realign.py, `iqpfr prepare-faces`)."""

import json
import shutil

import cv2
import numpy as np
import pytest

from app.cli import main
from app.faces import create_detector, detect_faces, face_template
from app.training import realign
from app.training.realign import MANIFEST_NAME, missing_fraction, realign_folder
from conftest import SHARED_DATA, shared

UTKFACE = SHARED_DATA / "train" / "utkface"
FFHQ = SHARED_DATA / "train" / "ffhq256"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def mtcnn():
    return create_detector("mtcnn")


def ffhq_files(count: int) -> list:
    return sorted(shared(FFHQ).glob("*.jpg"))[:count]


def write_rgb(path, rgb):
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def read_rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def manifest(dst):
    return json.loads((dst / MANIFEST_NAME).read_text())


def test_missing_fraction_counts_crop_pixels_outside_the_source():
    identity = np.float32([[1, 0, 0], [0, 1, 0]])
    half_left = np.float32([[1, 0, 128], [0, 1, 0]])  # source sits in the right half of the crop
    assert missing_fraction(identity, (256, 256, 3), 256) == pytest.approx(0.0, abs=0.01)
    assert missing_fraction(half_left, (256, 256, 3), 256) == pytest.approx(0.5, abs=0.01)
    assert missing_fraction(identity, (128, 128, 3), 256) == pytest.approx(0.75, abs=0.01)


def test_kept_faces_are_256_pngs_with_landmarks_on_the_template(tmp_path, mtcnn):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    for path in ffhq_files(2):
        shutil.copy(path, src)
    # an FFHQ face shrunk, rotated and shifted off the template: only a real re-alignment puts it back
    face = read_rgb(ffhq_files(3)[2])
    moved = cv2.getRotationMatrix2D((128, 128), 15, 0.8)
    moved[:, 2] += (40, 30)
    write_rgb(src / "moved.png", cv2.warpAffine(face, moved, (340, 320), borderMode=cv2.BORDER_REPLICATE))

    result = realign_folder(src, dst, detector=mtcnn)

    names = sorted(p.name for p in src.iterdir())
    assert result.processed == 3 and result.skipped == 0
    files = manifest(dst)["files"]
    assert sorted(files) == names and all(files[n]["status"] == "kept" for n in names)
    for name in names:
        output = dst / files[name]["output"]
        assert output.name == name.rsplit(".", 1)[0] + ".png"
        assert output.read_bytes()[:8] == PNG_SIGNATURE
        assert read_rgb(output).shape == (256, 256, 3)
    aligned = read_rgb(dst / "moved.png")
    landmarks = max(detect_faces(mtcnn, aligned), key=lambda f: f.size).landmarks
    assert np.abs(landmarks - face_template(256)).max() < 8
    assert not list(dst.glob(".saving-*"))


def test_real_utkface_chips_are_dropped_as_too_tight_for_the_template(tmp_path, mtcnn):
    """UTKFace's chips show ~30 % of the FFHQ template's area: the face is found, the crop is refused."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    for path in sorted(shared(UTKFACE).glob("*.jpg"))[:5]:
        shutil.copy(path, src)

    realign_folder(src, dst, detector=mtcnn)

    data = manifest(dst)
    assert len(data["files"]) == 5 and data["totals"]["dropped_by_reason"] == {"off_image": 5}
    for entry in data["files"].values():
        assert entry["missing"] > realign.MAX_MISSING and entry["score"] >= realign.MIN_SCORE
    assert not list(dst.glob("*.png"))


def test_a_face_mostly_off_the_image_is_dropped_and_the_whole_face_kept(tmp_path, mtcnn):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    whole = ffhq_files(1)[0]
    shutil.copy(whole, src / "whole.jpg")
    write_rgb(src / "tight.png", read_rgb(whole)[60:200, 60:196])  # a chip tighter than UTKFace's
    write_rgb(src / "partly.png", read_rgb(whole)[24:232, 24:232])  # ~1/3 off-image: kept, mirrored edges

    realign_folder(src, dst, detector=mtcnn)

    files = manifest(dst)["files"]
    assert files["whole.jpg"]["status"] == "kept" and files["whole.jpg"]["missing"] < 0.05
    tight = files["tight.png"]
    assert tight["status"] == "dropped" and tight["reason"] == "off_image" and tight["missing"] > realign.MAX_MISSING
    assert (dst / "whole.png").exists() and not (dst / "tight.png").exists()
    partly = files["partly.png"]
    assert partly["status"] == "kept" and 0.2 < partly["missing"] <= realign.MAX_MISSING
    corner = read_rgb(dst / "partly.png")[:12, :12].reshape(-1, 3)
    assert len(np.unique(corner, axis=0)) > 10  # reflected photo, not a flat padding colour


def test_flat_grey_image_is_dropped_with_a_reason(tmp_path, mtcnn):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    write_rgb(src / "grey.png", np.full((200, 200, 3), 128, np.uint8))

    result = realign_folder(src, dst, detector=mtcnn)

    data = manifest(dst)
    assert data["files"]["grey.png"]["status"] == "dropped" and data["files"]["grey.png"]["reason"] == "no_face"
    assert data["totals"] == {"files": 1, "kept": 0, "dropped": 1, "dropped_by_reason": {"no_face": 1}}
    assert result.counts() == {"no_face": 1}
    assert not (dst / "grey.png").exists()


class _MustNotRun:
    name = "mtcnn"

    def detect_raw(self, rgb):
        raise AssertionError("a file recorded in the manifest was processed again")


def test_rerun_skips_files_already_done(tmp_path, mtcnn):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    shutil.copy(ffhq_files(1)[0], src / "face.jpg")
    write_rgb(src / "grey.png", np.full((64, 64, 3), 128, np.uint8))
    realign_folder(src, dst, detector=mtcnn)
    stamp = (dst / "face.png").stat().st_mtime_ns

    again = realign_folder(src, dst, detector=_MustNotRun())

    assert again.processed == 0 and again.skipped == 2
    assert (dst / "face.png").stat().st_mtime_ns == stamp
    assert manifest(dst)["totals"]["files"] == 2

    shutil.copy(ffhq_files(2)[1], src / "new.jpg")
    third = realign_folder(src, dst, detector=mtcnn)
    assert third.processed == 1 and third.skipped == 2 and (dst / "new.png").exists()


def test_cli_prepare_faces_honours_limit_and_prints_a_summary(tmp_path, capsys):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    for path in ffhq_files(2):
        shutil.copy(path, src)
    write_rgb(src / "zz-grey.png", np.full((64, 64, 3), 128, np.uint8))

    assert main(["prepare-faces", str(src), str(dst), "--limit", "2", "--no-progress"]) == 0
    assert sorted(manifest(dst)["files"]) == [p.name for p in ffhq_files(2)]
    assert "Kept 2; dropped: none" in capsys.readouterr().out

    assert main(["prepare-faces", str(src), str(dst), "--no-progress"]) == 0
    assert "1 processed, 2 already done. Kept 2; dropped: no_face 1" in capsys.readouterr().out
