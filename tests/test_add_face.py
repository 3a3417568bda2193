"""Adding a face the detector missed, from a box the user drew (no Qt): the detector runs again inside the box.

Honest setup: the same MTCNN, wrapped so that on the whole photo it misses the right-hand face of the Blake
Lively photo (as a detector misses a small or turned face); on the box's neighbourhood it runs unchanged."""

import numpy as np
import pytest

from app.errors import FaceNotFoundError
from app.faces.in_box import NO_FACE_MESSAGE, find_face_in_box
from app.photo_io import load_photo
from app.pipeline import FaceRestorer


class MissesTheRightFace:
    """MTCNN that, on the whole photo, leaves out the face whose centre lies in the photo's right half."""

    name = "mtcnn-missing-one"

    def __init__(self, real, photo_shape):
        self.real, self.photo_shape = real, photo_shape
        self.calls = 0

    def detect_raw(self, rgb):
        self.calls += 1
        faces = self.real.detect_raw(rgb)
        if rgb.shape[:2] == self.photo_shape:
            faces = [face for face in faces if (face.box[0] + face.box[2]) / 2 < rgb.shape[1] / 2]
        return faces


@pytest.fixture(scope="module")
def blake(blake_photo_path):
    return load_photo(blake_photo_path)


@pytest.fixture(scope="module")
def both(restorer, blake):
    """The photo prepared with both faces found (what the right face really looks like)."""
    return restorer.prepare(blake)


@pytest.fixture(scope="module")
def missing(restorer, blake):
    """A restorer whose detector misses the right face, and the photo prepared by it (one face)."""
    detector = MissesTheRightFace(restorer.detector, blake.pixels.shape[:2])
    one_eyed = FaceRestorer(restorer.network, None, detector, "cpu")
    return one_eyed, one_eyed.prepare(blake)


def test_a_face_drawn_around_is_found_aligned_and_appended(missing, both):
    one_eyed, prepared = missing
    assert prepared.face_count == 1  # the detector missed it
    right = both.faces[1]
    x0, y0, x1, y1 = right.detection.box
    drawn = (x1 + 12, y1 + 9, x0 - 10, y0 - 8)  # dragged from the bottom right, a little loose
    added = one_eyed.add_face(prepared, drawn)
    assert added.face_count == 2 and prepared.face_count == 1  # a new PreparedPhoto; the old one is unchanged
    assert added.faces[0] is prepared.faces[0] and added.chunks[0] is prepared.chunks[0]  # kept, not re-encoded
    new = added.faces[1]
    assert np.abs(new.detection.landmarks - right.detection.landmarks).max() < 8  # photo pixels, not the crop's
    assert new.aligned.image.shape == right.aligned.image.shape

    def difference(a, b):
        return np.abs(a.aligned.image.astype(float) - b.aligned.image.astype(float)).mean()

    assert difference(new, right) < difference(new, both.faces[0]) / 3  # that face, aligned about the same way
    chunk = added.chunks[-1]
    assert (chunk.start, chunk.stop, chunk.cached) == (1, 2, True) and chunk.encoded is not None
    faces = one_eyed.restore_faces(added, 0.5)
    assert len(faces.faces) == 2
    result = faces.photo(added)
    box = tuple(round(v) for v in right.detection.box)
    region = (slice(box[1], box[3]), slice(box[0], box[2]))
    assert not np.array_equal(result.photo.pixels[region], added.photo.pixels[region])  # pasted back


def test_a_box_with_no_face_says_so(missing, blake):
    one_eyed, prepared = missing
    height, width = blake.pixels.shape[:2]
    with pytest.raises(FaceNotFoundError) as raised:
        one_eyed.add_face(prepared, (width - 90, height - 90, width - 5, height - 5))  # a corner: no face
    assert str(raised.value) == NO_FACE_MESSAGE
    assert "No face found inside the box you drew" in NO_FACE_MESSAGE and prepared.face_count == 1


def test_a_face_outside_the_box_is_not_taken(restorer, both):
    """The neighbourhood searched is larger than the box: a face in the margin only is not the one asked for."""
    x0, _, x1, _ = both.faces[1].detection.box
    beside = (x0 - 10, 0, x0 + 0.35 * (x1 - x0), both.photo.pixels.shape[0])  # a tall box over the face's left
    # third: the neighbourhood searched holds the whole face, whose centre lies right of the box
    with pytest.raises(FaceNotFoundError, match="No face found inside the box"):
        find_face_in_box(restorer.detector, both.photo.rgb8(), beside)


def test_a_face_already_found_is_refused(restorer, both):
    with pytest.raises(FaceNotFoundError, match=r"already found \(face 1\)"):
        restorer.add_face(both, both.faces[0].detection.box)


def test_a_tiny_box_is_refused_without_running_the_detector(missing):
    one_eyed, prepared = missing
    calls = one_eyed.detector.calls
    with pytest.raises(FaceNotFoundError, match="too small"):
        one_eyed.add_face(prepared, (100, 100, 104, 140))
    assert one_eyed.detector.calls == calls


@pytest.mark.parametrize("scale", [0.1, 0.045])
def test_a_face_too_small_for_the_whole_photo_pass_is_found_in_its_box(restorer, both, blake, scale):
    """A crowd-like photo: the Blake photo shrunk (faces of about 18 or 8 px) on a large grey ground. The
    whole-photo pass misses both faces (MTCNN's smallest is 20 px); the box's neighbourhood, enlarged before
    detection (without that, the 8 px face is not found), gives the right face with its landmarks in the large
    photo's pixels."""
    import cv2

    from app.faces import detect_faces

    left, top = 400, 300
    small = cv2.resize(blake.rgb8(), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    crowd = np.full((600, 800, 3), 120, np.uint8)
    crowd[top : top + small.shape[0], left : left + small.shape[1]] = small
    assert detect_faces(restorer.detector, crowd) == []
    x0, y0, x1, y1 = (v * scale for v in both.faces[1].detection.box)
    face = find_face_in_box(restorer.detector, crowd, (left + x0 - 2, top + y0 - 2, left + x1 + 2, top + y1 + 2))
    expected = both.faces[1].detection.landmarks * scale + (left, top)
    assert np.abs(face.landmarks - expected).max() < 2
