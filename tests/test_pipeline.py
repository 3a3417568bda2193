import numpy as np
import pytest

from app.errors import StudioError
from app.photo_io import load_photo
from conftest import WHOLE_PHOTOS, fidelity_model, shared


@pytest.fixture(scope="module")
def fidelity_restorer(restorer):
    from app.pipeline import FaceRestorer

    model, info = fidelity_model()
    return FaceRestorer(model, info, restorer.detector, "cpu")


def test_prepare_caches_features_and_restore_keeps_the_photo_intact(restorer, blake_photo_path):
    photo = load_photo(blake_photo_path)
    prepared = restorer.prepare(photo)
    assert prepared.face_count == 2
    [chunk] = prepared.chunks  # two faces: one chunk
    assert len(chunk.encoded) == 2 and chunk.encoded.features.shape[0] == 2
    assert chunk.encoded.skips  # the fidelity path's encoder features are cached too

    result = restorer.restore_prepared(prepared, 0.9)
    assert result.photo.pixels.shape == photo.pixels.shape and result.photo.pixels.dtype == np.uint8
    assert result.photo.exif == photo.exif and result.photo.icc_profile == photo.icc_profile
    assert len(result.restored_faces) == 2
    assert not np.array_equal(result.photo.pixels, photo.pixels)  # faces replaced
    np.testing.assert_array_equal(photo.pixels, load_photo(blake_photo_path).pixels)  # input untouched

    changed_rows, changed_cols = np.nonzero(np.any(result.photo.pixels != photo.pixels, axis=2))
    boxes = np.array([f.detection.box for f in prepared.faces])
    width = (boxes[:, 2] - boxes[:, 0]).max()
    assert changed_cols.min() >= boxes[:, 0].min() - width and changed_cols.max() <= boxes[:, 2].max() + width
    assert changed_rows.max() <= boxes[:, 3].max() + width


def test_quality_changes_reuse_the_cached_encoding(restorer, blake_photo_path, monkeypatch):
    prepared = restorer.prepare(load_photo(blake_photo_path))
    calls = []
    monkeypatch.setattr(restorer.model, "encode", lambda *a: calls.append(a))
    low = restorer.restore_prepared(prepared, 0.05)
    high = restorer.restore_prepared(prepared, 0.95)
    assert calls == []
    assert not np.array_equal(low.photo.pixels, high.photo.pixels)
    assert not (
        np.array_equal(low.common_indices, high.common_indices) and np.array_equal(low.hq_indices, high.hq_indices)
    )


def test_fidelity_changes_the_output_without_re_encoding(fidelity_restorer, blake_photo_path, monkeypatch):
    prepared = fidelity_restorer.prepare(load_photo(blake_photo_path))
    calls = []
    monkeypatch.setattr(fidelity_restorer.model, "encode", lambda *a: calls.append(a))
    restored = fidelity_restorer.restore_prepared(prepared, 0.9, fidelity=0.0)
    original_like = fidelity_restorer.restore_prepared(prepared, 0.9, fidelity=1.0)
    assert calls == []
    assert (restored.fidelity, original_like.fidelity) == (0.0, 1.0)
    assert not np.array_equal(restored.restored_faces[0], original_like.restored_faces[0])
    assert not np.array_equal(restored.photo.pixels, original_like.photo.pixels)


def test_fidelity_defaults_to_the_models_stored_value(fidelity_restorer, blake_photo_path, monkeypatch):
    prepared = fidelity_restorer.prepare(load_photo(blake_photo_path))
    assert fidelity_restorer.restore_prepared(prepared, 0.9).fidelity == 0.5  # no metadata: 0.5
    monkeypatch.setitem(fidelity_restorer.model_info.metadata, "default_fidelity", 0.3)
    default = fidelity_restorer.restore_prepared(prepared, 0.9)
    assert default.fidelity == 0.3
    np.testing.assert_array_equal(
        default.photo.pixels, fidelity_restorer.restore_prepared(prepared, 0.9, fidelity=0.3).photo.pixels
    )


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_fidelity_outside_0_to_1_is_refused(fidelity_restorer, blake_photo_path, bad):
    prepared = fidelity_restorer.prepare(load_photo(blake_photo_path))
    with pytest.raises(StudioError, match=r"between 0 .*and 1"):
        fidelity_restorer.restore_prepared(prepared, 0.9, fidelity=bad)


def test_model_without_fidelity_path_ignores_the_fidelity(restorer, blake_photo_path):
    from app.pipeline import FaceRestorer

    model, info = fidelity_model(fidelity_scales=())
    old_style = FaceRestorer(model, info, restorer.detector, "cpu")
    assert not old_style.has_fidelity and fidelity_model()[0].has_fidelity
    prepared = old_style.prepare(load_photo(blake_photo_path))
    np.testing.assert_array_equal(
        old_style.restore_prepared(prepared, 0.9, fidelity=0.0).photo.pixels,
        old_style.restore_prepared(prepared, 0.9, fidelity=1.0).photo.pixels,
    )


def test_photo_without_faces_is_returned_unchanged(restorer):
    from app.photo_io import Photo

    y, x = np.mgrid[0:200, 0:300]
    photo = Photo(np.dstack([x % 256, y % 256, np.zeros_like(x)]).astype(np.uint8))
    result = restorer.restore(photo, 0.9)
    assert result.restored_faces == []
    np.testing.assert_array_equal(result.photo.pixels, photo.pixels)


def test_alpha_and_16bit_are_preserved(restorer, face_photo_rgb):
    from app.photo_io import Photo

    alpha = np.full(face_photo_rgb.shape[:2], 200, np.uint8)
    photo = Photo(face_photo_rgb.astype(np.uint16) * 257, alpha=alpha)
    result = restorer.restore(photo, 0.5)
    assert result.photo.pixels.dtype == np.uint16 and result.restored_faces
    np.testing.assert_array_equal(result.photo.alpha, alpha)


@pytest.mark.parametrize("name", sorted(p.name for p in WHOLE_PHOTOS.iterdir()))
def test_every_whole_photo_restores_at_full_size(restorer, name):
    photo = load_photo(shared(WHOLE_PHOTOS / name))
    result = restorer.restore(photo, 0.9)
    assert result.restored_faces
    assert result.photo.pixels.shape == photo.pixels.shape


# ------------------------------------------------------------------ hostile inputs (issue 8, items 1, 15)


class GridDetector:
    """Finds `count` faces of `size` px on a grid, five columns wide (landmarks on the FFHQ template)."""

    name = "grid"

    def __init__(self, count: int, size: int = 64) -> None:
        self.count, self.size = count, size

    def detect_raw(self, rgb):
        from app.faces import DetectedFace, face_template

        faces = []
        for index in range(self.count):
            x, y = (index % 5) * self.size, (index // 5) * self.size
            faces.append(
                DetectedFace((x, y, x + self.size, y + self.size), face_template(self.size) + np.float32([x, y]), 0.99)
            )
        return faces


def _spied_restorer(restorer, monkeypatch, count):
    """A restorer finding `count` faces in a noise photo, and the face batch sizes its network is given."""
    from app.photo_io import Photo
    from app.pipeline import FaceRestorer

    many = FaceRestorer(restorer.network, None, GridDetector(count), "cpu")
    photo = Photo(np.random.default_rng(3).integers(0, 256, (4 * 64, 5 * 64, 3), dtype=np.uint8))
    seen = {"encode": [], "restore": []}
    encode, restore = many.network.encode, many.network.restore

    def spy_encode(faces):
        seen["encode"].append(faces.shape[0])
        return encode(faces)

    def spy_restore(encoded, faces, *args, **kwargs):
        seen["restore"].append(faces.shape[0])
        return restore(encoded, faces, *args, **kwargs)

    monkeypatch.setattr(many.network, "encode", spy_encode)
    monkeypatch.setattr(many.network, "restore", spy_restore)
    return many, photo, seen


def _assert_same_faces(faces, reference):
    for face, expected in zip(faces, reference, strict=True):
        assert np.abs(face.astype(int) - expected.astype(int)).max() <= 1


def test_faces_go_through_the_model_in_bounded_chunks(restorer, monkeypatch):
    from app import pipeline

    count = 19
    assert count > pipeline.FACE_CHUNK  # chunking is exercised
    many, photo, seen = _spied_restorer(restorer, monkeypatch, count)
    result = many.restore(photo, 0.9)
    assert len(result.restored_faces) == count
    for stage in ("encode", "restore"):
        assert sum(seen[stage]) == count and max(seen[stage]) <= pipeline.FACE_CHUNK, seen
    assert result.common_indices.shape[0] == count

    monkeypatch.setattr(pipeline, "FACE_CHUNK", count)  # all at once: the same faces, in the same order
    whole = many.restore(photo, 0.9)
    assert seen["encode"][-1] == count
    _assert_same_faces(result.restored_faces, whole.restored_faces)
    np.testing.assert_array_equal(result.common_indices, whole.common_indices)


def test_only_the_first_faces_keep_their_encoding_between_slider_moves(restorer, monkeypatch):
    from app import pipeline

    count = 19
    many, photo, seen = _spied_restorer(restorer, monkeypatch, count)
    reference = many.restore(photo, 0.9)  # restored once: each chunk encoded as it is restored

    monkeypatch.setattr(pipeline, "CACHED_FACES", 8)
    prepared = many.prepare(photo)
    cached = sum(chunk.stop - chunk.start for chunk in prepared.chunks if chunk.cached)
    assert 0 < cached < count
    assert all(chunk.inputs is None and chunk.encoded is None for chunk in prepared.chunks if not chunk.cached)
    seen["encode"].clear()
    for _ in range(2):  # two slider moves: only the faces past the cache are encoded again, each time
        moved = many.restore_prepared(prepared, 0.9)
        _assert_same_faces(moved.restored_faces, reference.restored_faces)
    assert sum(seen["encode"]) == 2 * (count - cached) and max(seen["encode"]) <= pipeline.FACE_CHUNK


def test_restoring_once_keeps_one_chunk_of_faces_at_a_time(restorer, monkeypatch):
    """`restore` (batch, `iqpfr restore`) encodes each chunk just before restoring it and keeps no encoding:
    memory holds one chunk's tensors, whatever the number of faces."""
    from app import pipeline

    count = 19
    many, photo, _ = _spied_restorer(restorer, monkeypatch, count)
    order = []
    encode, restore = many.network.encode, many.network.restore
    monkeypatch.setattr(many.network, "encode", lambda faces: order.append("encode") or encode(faces))
    monkeypatch.setattr(
        many.network, "restore", lambda *args, **kwargs: order.append("restore") or restore(*args, **kwargs)
    )
    result = many.restore(photo, 0.9)
    chunks = -(-count // pipeline.FACE_CHUNK)
    assert order == ["encode", "restore"] * chunks and len(result.restored_faces) == count
    prepared = many.prepare(photo, cached_faces=0)
    assert not any(chunk.cached or chunk.inputs is not None or chunk.encoded is not None for chunk in prepared.chunks)


def _cached_bytes(prepared) -> int:
    """Bytes of the tensors a prepared photo keeps for slider moves."""
    total = 0
    for chunk in prepared.chunks:
        tensors = [chunk.inputs, chunk.encoded.features, *chunk.encoded.skips.values()] if chunk.cached else []
        total += sum(tensor.numel() * tensor.element_size() for tensor in tensors)
    return total


def test_what_the_window_keeps_between_slider_moves_stops_growing_after_a_few_faces(restorer, monkeypatch):
    """The cache of encoder work (3.9 MB a face with the default model) is kept for CACHED_FACES faces; a photo
    with more faces keeps no more (it kept 64 faces, a quarter of a gigabyte)."""
    from app import pipeline

    few, few_photo, _ = _spied_restorer(restorer, monkeypatch, pipeline.CACHED_FACES)
    many, many_photo, _ = _spied_restorer(restorer, monkeypatch, 19)
    few_cache = _cached_bytes(few.prepare(few_photo))
    assert few_cache > 0 and _cached_bytes(many.prepare(many_photo)) == few_cache


@pytest.mark.parametrize("height, width", [(1, 1), (11, 11), (100_000, 3), (3, 100_000), (20, 400)])
def test_photo_too_small_to_hold_a_face_says_so(restorer, height, width):
    from app.errors import PhotoTooSmallError
    from app.photo_io import Photo

    photo = Photo(np.full((height, width, 3), 128, np.uint8))
    with pytest.raises(PhotoTooSmallError, match=f"{width}×{height} pixels: too small to hold a face"):
        restorer.prepare(photo)


@pytest.mark.parametrize("height, width", [(30, 5000), (5000, 30), (24, 24)])
def test_thin_photos_that_could_hold_a_face_are_searched_without_error(restorer, height, width):
    from app.photo_io import Photo

    photo = Photo(np.full((height, width, 3), 128, np.uint8))
    result = restorer.restore(photo, 0.9)
    assert result.restored_faces == []
    np.testing.assert_array_equal(result.photo.pixels, photo.pixels)


def test_preview_pastes_the_faces_at_the_previews_scale(restorer, blake_photo_path):
    """A large photo's preview is the photo shrunk, with the same faces pasted at the preview's scale."""
    import cv2

    from app.pipeline import compose, preview_pixels

    photo = load_photo(blake_photo_path)
    big = photo.with_pixels(cv2.resize(photo.pixels, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC))
    prepared = restorer.prepare(big)
    faces = restorer.restore_faces(prepared, 0.9)
    height, width = big.pixels.shape[:2]
    limit = height * width // 9
    preview = compose(prepared, faces.faces, max_pixels=limit)
    assert preview.shape[0] * preview.shape[1] <= limit and preview.shape[0] < height / 2.9
    assert preview_pixels(prepared, limit)[0] is preview_pixels(prepared, limit)[0]  # shrunk once per photo
    full = compose(prepared, faces.faces)
    full_shrunk = cv2.resize(full, preview.shape[1::-1], interpolation=cv2.INTER_AREA).astype(int)
    plain_shrunk = preview_pixels(prepared, limit)[0].astype(int)
    pasted = np.abs(full_shrunk - plain_shrunk).max(axis=2) > 12  # where the faces were pasted
    assert pasted.mean() > 0.01
    assert np.abs(preview.astype(int) - full_shrunk)[pasted].mean() < 4  # the same faces, at the same place
    np.testing.assert_array_equal(compose(prepared, faces.faces, max_pixels=height * width), full)  # small: exact


def test_restore_faces_stops_between_chunks_when_asked(restorer, blake_photo_path):
    from app.pipeline import Stopped

    prepared = restorer.prepare(load_photo(blake_photo_path))
    asked = []
    with pytest.raises(Stopped):
        restorer.restore_faces(prepared, 0.9, should_stop=lambda: asked.append(1) or True)
    assert asked == [1]
    assert len(restorer.restore_faces(prepared, 0.9, should_stop=lambda: False).faces) == 2


def test_left_out_faces_keep_their_original_pixels(restorer, blake_photo_path):
    photo = load_photo(blake_photo_path)
    prepared = restorer.prepare(photo)
    faces = restorer.restore_faces(prepared, 0.9)
    only_first = faces.photo(prepared, include={0})
    both = faces.photo(prepared)
    assert len(only_first.restored_faces) == 1 and len(both.restored_faces) == 2
    x0, y0, x1, y1 = (round(v) for v in prepared.faces[1].detection.box)
    np.testing.assert_array_equal(only_first.photo.pixels[y0:y1, x0:x1], photo.pixels[y0:y1, x0:x1])
    assert not np.array_equal(both.photo.pixels[y0:y1, x0:x1], photo.pixels[y0:y1, x0:x1])
    x0, y0, x1, y1 = (round(v) for v in prepared.faces[0].detection.box)
    np.testing.assert_array_equal(only_first.photo.pixels[y0:y1, x0:x1], both.photo.pixels[y0:y1, x0:x1])
