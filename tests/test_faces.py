import shutil

import numpy as np
import pytest

from app.errors import CheckpointError, WeightsMissingError
from app.faces import align_face, create_detector, detect_faces, face_template, paste_face
from app.faces.detection import RETINAFACE_WEIGHTS
from app.photo_io import load_photo
from conftest import SHARED_WEIGHTS, TEST_DATA, WHOLE_PHOTOS, shared


@pytest.fixture(scope="module")
def mtcnn():
    return create_detector("mtcnn")


def test_mtcnn_finds_both_faces_with_plausible_landmarks(mtcnn, face_photo_rgb):
    faces = detect_faces(mtcnn, face_photo_rgb)
    assert len(faces) == 2
    for face in faces:
        x0, y0, x1, y1 = face.box
        eyes, nose, mouth = face.landmarks[:2], face.landmarks[2], face.landmarks[3:]
        assert x0 < eyes[:, 0].min() and eyes[:, 0].max() < x1 and y0 < eyes[:, 1].min()
        assert eyes[:, 1].mean() < nose[1] < mouth[:, 1].mean() < y1  # eyes above nose above mouth


@pytest.mark.parametrize("name", sorted(p.name for p in WHOLE_PHOTOS.iterdir()))
def test_faces_found_in_every_whole_photo(mtcnn, name):
    photo = load_photo(shared(WHOLE_PHOTOS / name))
    assert detect_faces(mtcnn, photo.rgb8())


def test_no_faces_in_a_face_free_image(mtcnn):
    y, x = np.mgrid[0:300, 0:400]
    landscape = np.dstack([x % 256, y % 256, np.full_like(x, 128)]).astype(np.uint8)
    assert detect_faces(mtcnn, landscape) == []


def test_detection_on_downscaled_huge_photo_maps_back_to_full_size(mtcnn, face_photo_rgb):
    import cv2

    big = cv2.resize(face_photo_rgb, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    small_faces = detect_faces(mtcnn, face_photo_rgb)
    big_faces = detect_faces(mtcnn, big, max_side=900)  # forces a downscale inside
    assert len(big_faces) == len(small_faces)
    for small, large in zip(small_faces, big_faces, strict=True):
        np.testing.assert_allclose(np.array(large.box) / 4, small.box, atol=12)


def test_alignment_puts_landmarks_on_the_ffhq_template(mtcnn, face_photo_rgb):
    face = detect_faces(mtcnn, face_photo_rgb)[0]
    aligned = align_face(face_photo_rgb, face.landmarks, 128)
    assert aligned.image.shape == (128, 128, 3) and aligned.image.dtype == np.uint8
    mapped = np.c_[face.landmarks, np.ones(5)] @ aligned.affine.T
    assert np.abs(mapped - face_template(128)).mean() < 6  # similarity fit of 5 points


def test_paste_back_keeps_size_and_leaves_background_untouched(mtcnn, face_photo_rgb):
    original = face_photo_rgb.copy()
    face = detect_faces(mtcnn, original)[0]
    aligned = align_face(original, face.landmarks, 128)
    flat_grey = np.full_like(aligned.image, 128)
    result = paste_face(original.copy(), flat_grey, aligned.inverse)

    assert result.shape == original.shape and result.dtype == original.dtype
    changed = np.any(result != original, axis=2)
    x0, y0, x1, y1 = face.box
    margin = (x1 - x0)  # aligned crop extends around the face box
    outside = np.ones_like(changed)
    outside[max(0, int(y0 - margin)):int(y1 + margin), max(0, int(x0 - margin)):int(x1 + margin)] = False
    assert not changed[outside].any()
    nose_x, nose_y = face.landmarks[2].astype(int)
    assert np.abs(result[nose_y, nose_x].astype(int) - 128).max() <= 2  # nose now grey


def test_paste_back_on_16bit_photo(mtcnn, face_photo_rgb):
    photo16 = face_photo_rgb.astype(np.uint16) * 257
    face = detect_faces(mtcnn, face_photo_rgb)[0]
    aligned = align_face(face_photo_rgb, face.landmarks, 64)
    result = paste_face(photo16.copy(), np.full_like(aligned.image, 255), aligned.inverse)
    assert result.dtype == np.uint16
    nose_x, nose_y = face.landmarks[2].astype(int)
    assert result[nose_y, nose_x].min() >= 65000


def test_retinaface_without_weights_offline_is_a_clear_error():
    with pytest.raises(WeightsMissingError, match="detection_mobilenet0.25_Final.pth"):
        create_detector("retinaface-mobile")


def test_retinaface_loads_its_weight_file_from_the_models_folder(isolated_model_dirs, face_photo_rgb):
    # The shared biubug6 MobileNet-0.25 RetinaFace file has facexlib's architecture.
    shutil.copy(shared(SHARED_WEIGHTS / "retinaface-biubug6" / "mobilenet0.25_Final.pth"),
                isolated_model_dirs / RETINAFACE_WEIGHTS["retinaface-mobile"].file_name)
    detector = create_detector("retinaface-mobile")
    faces = detect_faces(detector, face_photo_rgb)
    assert faces and all(face.landmarks.shape == (5, 2) and 0 < face.score <= 1 for face in faces)


def test_retinaface_rejects_a_wrong_weight_file(isolated_model_dirs):
    wrong = isolated_model_dirs / RETINAFACE_WEIGHTS["retinaface"].file_name  # resnet50 name, mobilenet data
    shutil.copy(shared(SHARED_WEIGHTS / "retinaface-biubug6" / "mobilenet0.25_Final.pth"), wrong)
    with pytest.raises(CheckpointError, match="not a usable resnet50"):
        create_detector("retinaface")


def test_cropped_face_inputs_are_detected(mtcnn):
    folder = shared(TEST_DATA / "gfpgan-inputs" / "cropped_faces")
    found = [len(detect_faces(mtcnn, load_photo(p).rgb8())) for p in sorted(folder.glob("*.png"))]
    assert found and all(n >= 1 for n in found)
