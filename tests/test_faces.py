import shutil

import numpy as np
import pytest

from app.errors import CheckpointError, WeightsMissingError
from app.faces import align_face, create_detector, detect_faces, face_mask, face_template, paste_face
from app.faces.detection import RETINAFACE_WEIGHTS
from app.faces.paste import face_scale
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
    margin = x1 - x0  # aligned crop extends around the face box
    outside = np.ones_like(changed)
    outside[max(0, int(y0 - margin)) : int(y1 + margin), max(0, int(x0 - margin)) : int(x1 + margin)] = False
    assert not changed[outside].any()
    nose_x, nose_y = face.landmarks[2].astype(int)
    nose = result[nose_y - 4 : nose_y + 5, nose_x - 4 : nose_x + 5].reshape(-1, 3).mean(0)
    assert np.abs(nose - 128).max() <= 6  # nose now grey (plus the photo's finest detail: this face is > 128 px)


def test_paste_back_on_16bit_photo(mtcnn, face_photo_rgb):
    photo16 = face_photo_rgb.astype(np.uint16) * 257
    face = detect_faces(mtcnn, face_photo_rgb)[0]
    aligned = align_face(face_photo_rgb, face.landmarks, 64)
    result = paste_face(photo16.copy(), np.full_like(aligned.image, 255), aligned.inverse)
    assert result.dtype == np.uint16
    nose_x, nose_y = face.landmarks[2].astype(int)
    assert result[nose_y - 4 : nose_y + 5, nose_x - 4 : nose_x + 5].mean() >= 62000  # white, plus fine detail


def _laplacian_variance(rgb, box):
    import cv2

    x0, y0, x1, y1 = (int(round(v)) for v in box)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return cv2.Laplacian(gray, cv2.CV_64F)[y0:y1, x0:x1].var()


def _band_variance(rgb, box, low_sigma, high_sigma):
    import cv2

    x0, y0, x1, y1 = (int(round(v)) for v in box)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return (cv2.GaussianBlur(gray, (0, 0), low_sigma) - cv2.GaussianBlur(gray, (0, 0), high_sigma))[y0:y1, x0:x1].var()


def test_large_face_pasted_back_keeps_its_fine_detail(mtcnn, face_photo_rgb):
    """A face larger than the model's 128 px must not come back blurrier than it went in, even when
    the restored face is blurry at its own resolution."""
    import cv2

    for face in detect_faces(mtcnn, face_photo_rgb):
        aligned = align_face(face_photo_rgb, face.landmarks, 128)
        scale = face_scale(aligned.inverse)
        assert scale > 1.8  # both faces in this photo are 2-3x the model's size
        blurry_restoration = cv2.GaussianBlur(aligned.image, (0, 0), 1.0)
        result = paste_face(face_photo_rgb.copy(), blurry_restoration, aligned.inverse)
        # finest detail (above the restored face's Nyquist)
        assert _laplacian_variance(result, face.box) >= 0.7 * _laplacian_variance(face_photo_rgb, face.box)
        # the restored face's own top octave, where this restoration has lost detail
        octave = (0.5 * scale, 1.0 * scale)
        assert _band_variance(result, face.box, *octave) >= 0.65 * _band_variance(face_photo_rgb, face.box, *octave)


def test_small_face_takes_no_detail_from_the_original(mtcnn, face_photo_rgb):
    """For faces at or below the model's size (s <= 1) the restored face is pasted as it is."""
    import cv2

    small = cv2.resize(face_photo_rgb, None, fx=0.35, fy=0.35, interpolation=cv2.INTER_AREA)
    face = detect_faces(mtcnn, small)[0]
    aligned = align_face(small, face.landmarks, 128)
    assert face_scale(aligned.inverse) <= 1.0
    noise = np.random.default_rng(0).integers(0, 256, small.shape, dtype=np.uint8)
    plain = paste_face(small.copy(), aligned.image, aligned.inverse)
    with_other_detail = paste_face(small.copy(), aligned.image, aligned.inverse, original=noise)
    np.testing.assert_array_equal(plain, with_other_detail)


def _synthetic_face(scale, angle_degrees=12.0, dtype=np.uint8, value=200):
    side = int(128 * scale * 2)
    photo = np.full((side, side, 3), value, dtype)
    angle = np.deg2rad(angle_degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    landmarks = (face_template(128) - 64) @ rotation.T * scale + side / 2
    return photo, align_face(photo if dtype == np.uint8 else (photo // 257).astype(np.uint8), landmarks, 128)


@pytest.mark.parametrize("scale", [0.8, 3.0])
def test_paste_back_leaves_no_visible_box(scale):
    """Flat grey photo, flat dark restored face: the blend must fade over a fair part of the face's
    size (a hard-edged or narrowly feathered square makes a jump) and the square's corners stay untouched."""
    photo, aligned = _synthetic_face(scale)
    contrast = 150
    result = paste_face(photo.copy(), np.full((128, 128, 3), 200 - contrast, np.uint8), aligned.inverse)
    green = result[..., 1].astype(float)
    largest_step = max(np.abs(np.diff(green, axis=0)).max(), np.abs(np.diff(green, axis=1)).max())
    face_pixels = 128 * scale
    assert largest_step <= contrast * 16 / face_pixels  # the fade spans at least ~1/16 of the face
    assert green[aligned.inverse[1, 2].astype(int) + 1 :, :].min() < 200 - contrast * 0.9  # face itself pasted

    corners = np.array([[0, 0], [127, 0], [0, 127], [127, 127]], float)
    inset = corners + (63.5 - corners) * 0.12
    for x, y in np.c_[inset, np.ones(4)] @ aligned.inverse.T:
        assert green[int(round(y)), int(round(x))] == 200  # no square corners


@pytest.mark.parametrize("scale", [0.8, 3.0])
def test_paste_back_changes_only_pixels_under_the_soft_mask(scale):
    rng = np.random.default_rng(1)
    photo, aligned = _synthetic_face(scale)
    photo = rng.integers(0, 256, photo.shape, dtype=np.uint8)  # detail everywhere
    result = paste_face(photo.copy(), np.full((128, 128, 3), 30, np.uint8), aligned.inverse)
    changed = np.any(result != photo, axis=2)
    mask = face_mask(aligned.affine, 128, photo.shape[:2])
    assert changed.any() and not changed[mask == 0].any()  # everything outside the face bit-identical


def test_large_face_in_16bit_photo_keeps_16bit_detail():
    photo, aligned = _synthetic_face(3.0, dtype=np.uint16, value=40000)
    photo = photo + np.random.default_rng(2).integers(0, 200, photo.shape, dtype=np.uint16)
    result = paste_face(photo.copy(), np.full((128, 128, 3), 128, np.uint8), aligned.inverse)
    assert result.dtype == np.uint16
    middle = photo.shape[0] // 2
    centre = result[middle - 20 : middle + 20, middle - 20 : middle + 20]
    assert np.abs(centre.astype(float).mean() - 128 * 257) < 300  # the restored face, not the photo
    assert centre.std() > 30  # with the photo's fine 16-bit detail (not flat 128*257)


def test_retinaface_without_weights_offline_is_a_clear_error():
    with pytest.raises(WeightsMissingError, match=r"detection_mobilenet0\.25_Final\.pth"):
        create_detector("retinaface-mobile")


def test_retinaface_loads_its_weight_file_from_the_models_folder(isolated_model_dirs, face_photo_rgb):
    # The shared biubug6 MobileNet-0.25 RetinaFace file has facexlib's architecture.
    shutil.copy(
        shared(SHARED_WEIGHTS / "retinaface-biubug6" / "mobilenet0.25_Final.pth"),
        isolated_model_dirs / RETINAFACE_WEIGHTS["retinaface-mobile"].file_name,
    )
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


# ------------------------------------------------------------------ memory bounded in faces and face size (issue 17)


def _detailed_face(scale, seed=3):
    """A photo with texture at every scale and a face of `scale` × 128 px on it (restored face: noise too)."""
    import cv2

    photo, aligned = _synthetic_face(scale)
    rng = np.random.default_rng(seed)
    side = photo.shape[0]
    coarse = cv2.resize(rng.integers(0, 256, (side // 16, side // 16, 3), dtype=np.uint8), (side, side))
    photo = np.clip(coarse.astype(np.int16) + rng.integers(-40, 40, photo.shape), 0, 255).astype(np.uint8)
    face = cv2.GaussianBlur(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8), (0, 0), 1.0)
    return photo, face, aligned


def test_a_large_face_is_pasted_in_windows_with_the_same_result(monkeypatch):
    """A face whose region is larger than PASTE_WINDOW goes in windows; the result is what pasting the whole
    region at once gives (up to float rounding), and outside the mask nothing changes."""
    from app.faces import paste

    photo, face, aligned = _detailed_face(10.0)
    region_side = face_scale(aligned.inverse) * 128 * 1.2
    assert region_side > paste.PASTE_WINDOW  # several windows
    windowed = paste_face(photo.copy(), face, aligned.inverse, original=photo)
    monkeypatch.setattr(paste, "PASTE_WINDOW", 1_000_000)  # one window: the whole region at once
    whole = paste_face(photo.copy(), face, aligned.inverse, original=photo)
    difference = np.abs(windowed.astype(int) - whole.astype(int))
    assert difference.max() <= 1 and difference.mean() < 0.05  # the shrunk blur grids start elsewhere
    mask = face_mask(aligned.affine, 128, photo.shape[:2])
    assert np.array_equal(windowed[mask == 0], photo[mask == 0])


@pytest.mark.slow
def test_pasting_a_huge_face_does_not_take_memory_in_proportion_to_its_size():
    """A 2,600 px face: its region is ~14 MP, which took ~1.7 GB of float arrays at once; windows bound it."""
    import tracemalloc

    photo, face, aligned = _detailed_face(20.0)
    pixels = photo.copy()
    tracemalloc.start()
    try:
        paste_face(pixels, face, aligned.inverse, original=photo)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 400e6, f"{peak / 1e6:.0f} MB"
    assert not np.array_equal(pixels, photo)  # the face was pasted


def test_mtcnn_scores_candidate_boxes_in_small_batches(mtcnn):
    """A photo of 36 faces gives MTCNN over a thousand candidate boxes; the library scored 512 at once (about
    250 MB of activations in its third network, growing with the faces up to that). At most 64 at once (about
    30 MB), with the same faces found."""
    tile = load_photo(shared(TEST_DATA / "codeformer-inputs" / "whole_imgs" / "04.jpg")).pixels
    photo = np.tile(tile, (6, 6, 1))
    networks = [mtcnn._mtcnn.rnet, mtcnn._mtcnn.onet]
    sizes = []
    hooks = [network.register_forward_pre_hook(lambda module, args: sizes.append(len(args[0]))) for network in networks]
    try:
        faces = detect_faces(mtcnn, photo)
    finally:
        for hook in hooks:
            hook.remove()
    assert len(faces) == 36
    assert sum(sizes) > 1000 and max(sizes) <= 64, (sum(sizes), max(sizes))
