"""Check the converted face-api networks against dlib itself, and measure what identity distances mean.

    .venv/bin/pip install -r requirements/verify.txt      # dlib-bin + face-recognition-models (~100 MB), once
    .venv/bin/python scripts/check_face_identity.py [--weights FILE] [--data ../shared/data] [--out FILE.json]

Verification only (dlib is not needed to use `app.faces.identity`). Prints, and writes as JSON:
1. conversion: the converted descriptor against dlib's `compute_face_descriptor` on the same 150 px chips
   (dlib's `get_face_chip` of real test photos: HOG detector, 5-point landmarks, padding 0.25), per face and
   on the pairwise distances; face-api's landmarks on those chips against dlib's 68-point predictor;
2. template: dlib's chip expressed in the FFHQ template, on FFHQ training faces 0–399 (the mean is
   `CHIP_IN_TEMPLATE_512`);
3. warp: `FaceIdentity.embed` of aligned faces (fixed warp) against the descriptor of dlib's own chip, on
   held-out FFHQ faces (256 px and 128 px) and on real test photos aligned by the app (MTCNN, 128 and 512 px);
   landmarks through the warp against dlib's 68 points;
4. reference distances: different people (FFHQ pairs), the same photo altered (flip, blur, JPEG, noise,
   downscale, grey), the same person in different photos (named pairs in the test sets).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.faces import align_face, create_detector, detect_faces
from app.faces.identity import FaceIdentity, landmark_distance
from app.image_tensors import images_to_tensor
from app.photo_io import load_photo

TEMPLATE_FACES = range(0, 400)  # FFHQ training faces the fixed template is estimated on
HELD_OUT_FACES = range(600, 900)  # FFHQ faces it is checked on
# The same person in two different photos (file names in the test sets say who; checked by eye).
SAME_PERSON_PHOTOS = [
    ("codeformer-inputs/gray_faces/Einstein01.png", "codeformer-inputs/gray_faces/Einstein02.png"),
    ("codeformer-inputs/gray_faces/Hepburn01.png", "codeformer-inputs/gray_faces/Hepburn02.png"),
    (
        "codeformer-inputs/gray_faces/158_Jimmy_Fallon_00.png",
        "pgdiff-testdata/op_cropped_faces/med/056_Jimmy_Fallon_00.png",
    ),
    ("dfdnet-testdata/RealVgg/n000184_0094_01.png", "dfdnet-testdata/RealVgg/n000184_0102_01.png"),
]
# A heavily degraded face and a clean photo of the same person (PGDiff's reference pairs).
DEGRADED_AND_REFERENCE = [
    (f"pgdiff-testdata/ref_cropped_faces/{n}.png", f"pgdiff-testdata/ref_faces/{n}.png")
    for n in ("00010", "00016", "00041", "00042", "00070", "00073", "00092")
]


class Dlib:
    """dlib's detector, 5- and 68-point predictors and descriptor network (face-recognition-models' files)."""

    def __init__(self) -> None:
        import dlib
        import face_recognition_models as models

        self.dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.five = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        self.sixty_eight = dlib.shape_predictor(models.pose_predictor_model_location())
        self.net = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    def faces(self, rgb: np.ndarray, upsample: int = 1) -> list:
        return list(self.detector(rgb, upsample))

    def chip(self, rgb: np.ndarray, rect) -> tuple[np.ndarray, np.ndarray]:
        """dlib's 150 px chip for a detection, and its chip → image affine (2×3)."""
        shape = self.five(rgb, rect)
        chip = np.array(self.dlib.get_face_chip(rgb, shape, size=150, padding=0.25))
        return chip, chip_to_image(self.dlib.get_face_chip_details(shape, size=150, padding=0.25))

    def points68(self, rgb: np.ndarray, rect) -> np.ndarray:
        shape = self.sixty_eight(rgb, rect)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)

    def descriptor(self, chip: np.ndarray) -> np.ndarray:
        return np.array(self.net.compute_face_descriptor(chip))


def chip_to_image(details) -> np.ndarray:
    """dlib's chip → image affine, as dlib's get_mapping_to_chip builds it: chip corners (0, 0), (cols−1, 0),
    (cols−1, rows−1) ↔ the detail rectangle's corners rotated about its centre by its angle."""
    rect, angle = details.rect, details.angle
    centre = rect.center()

    def rotated(x: float, y: float) -> tuple[float, float]:
        dx, dy = x - centre.x, y - centre.y
        return (
            math.cos(angle) * dx - math.sin(angle) * dy + centre.x,
            math.sin(angle) * dx + math.cos(angle) * dy + centre.y,
        )

    corners = [
        rotated(rect.left(), rect.top()),
        rotated(rect.right(), rect.top()),
        rotated(rect.right(), rect.bottom()),
    ]
    chip = [[0, 0], [details.cols - 1, 0], [details.cols - 1, details.rows - 1]]
    return cv2.getAffineTransform(np.array(chip, np.float32), np.array(corners, np.float32)).astype(np.float64)


def apply(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ affine[:, :2].T + affine[:, 2]


def invert(affine: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(affine)


def read_rgb(path: Path) -> np.ndarray:
    return load_photo(path).rgb8()


def summary(values) -> dict:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return {"n": 0}
    q = np.percentile(values, [5, 50, 95])
    return {
        "n": int(values.size),
        "mean": round(float(values.mean()), 4),
        "p5": round(float(q[0]), 4),
        "median": round(float(q[1]), 4),
        "p95": round(float(q[2]), 4),
        "max": round(float(values.max()), 4),
        "min": round(float(values.min()), 4),
    }


def pairwise(descriptors: np.ndarray) -> np.ndarray:
    upper = np.triu_indices(len(descriptors), 1)
    return np.linalg.norm(descriptors[:, None] - descriptors[None], axis=2)[upper]


class Checker:
    def __init__(self, identity: FaceIdentity, dlib: Dlib, data: Path) -> None:
        self.identity, self.dlib, self.data = identity, dlib, data
        self.ffhq = sorted((data / "train" / "ffhq256").glob("*.jpg"))

    @torch.no_grad()
    def descriptors_of_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        batch = torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float()
        return self.identity.descriptor(batch).numpy()

    @torch.no_grad()
    def embed(self, faces: list[np.ndarray]) -> np.ndarray:
        return torch.cat(
            [self.identity.embed(images_to_tensor(faces[i : i + 32])) for i in range(0, len(faces), 32)]
        ).numpy()

    @torch.no_grad()
    def landmarks(self, faces: list[np.ndarray]) -> np.ndarray:
        return self.identity.landmarks(images_to_tensor(faces)).numpy()

    def test_photos(self) -> list[Path]:
        files = sorted(p for p in (self.data / "test").rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        return [p for p in files if "gt" not in p.parts[-2]]

    # ------------------------------------------------------------------ 1. conversion
    def conversion(self, limit: int = 150) -> dict:
        chips, points = [], []
        for path in self.test_photos():
            rgb = read_rgb(path)
            if max(rgb.shape[:2]) > 2000:
                continue
            for rect in self.dlib.faces(rgb)[:3]:
                chip, to_image = self.dlib.chip(rgb, rect)
                chips.append(chip)
                points.append(apply(invert(to_image), self.dlib.points68(rgb, rect)))
            if len(chips) >= limit:
                break
        ours = self.descriptors_of_chips(chips)
        theirs = np.stack([self.dlib.descriptor(chip) for chip in chips])
        error = np.linalg.norm(ours - theirs, axis=1)
        pair_error = np.abs(pairwise(ours) - pairwise(theirs))
        same_ours, same_theirs = pairwise(ours) < 0.6, pairwise(theirs) < 0.6
        with torch.no_grad():
            crops = torch.nn.functional.interpolate(
                torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float(), size=112, mode="bilinear", antialias=True
            )
            fractions = self.identity.landmark_net(crops).numpy()
        face_api = fractions * 150.0 - 0.5  # fractions of the chip (edge to edge) → chip pixel centres
        dlib_points = np.stack(points)
        return {
            "faces": len(chips),
            "descriptor_difference": summary(error),
            "common_offset_norm": round(float(np.linalg.norm((ours - theirs).mean(axis=0))), 4),
            "pairwise_distance_difference": summary(pair_error),
            "pairwise_correlation": round(float(np.corrcoef(pairwise(ours), pairwise(theirs))[0, 1]), 5),
            "same_person_decisions_agree": round(float((same_ours == same_theirs).mean()), 5),
            "landmarks_vs_dlib68_chip_px": summary(np.linalg.norm(face_api - dlib_points, axis=2).mean(axis=1)),
            "landmarks_vs_dlib68_nme": summary(
                landmark_distance(torch.from_numpy(face_api), torch.from_numpy(dlib_points)).numpy()
            ),
        }

    # ------------------------------------------------------------------ 2. template
    def ffhq_face(self, index: int) -> np.ndarray:
        return read_rgb(self.ffhq[index])

    def template(self) -> dict:
        affines = []
        for index in TEMPLATE_FACES:
            rgb = self.ffhq_face(index)
            rects = self.dlib.faces(rgb)
            if len(rects) != 1:
                continue
            _, to_image = self.dlib.chip(rgb, rects[0])
            size = rgb.shape[0]
            to_512 = np.array([[512 / size, 0, (512 / size - 1) / 2], [0, 512 / size, (512 / size - 1) / 2]])
            affines.append(np.vstack([to_512, [0, 0, 1]]) @ np.vstack([to_image, [0, 0, 1]]))
        stack = np.stack(affines)[:, :2]
        scales = np.sqrt(np.abs(np.linalg.det(stack[:, :, :2])))
        return {
            "faces": len(affines),
            "chip_in_template_512": np.round(stack.mean(axis=0), 4).tolist(),
            "scale_std": round(float(scales.std()), 4),
            "angle_std_degrees": round(float(np.degrees(np.arctan2(stack[:, 1, 0], stack[:, 0, 0])).std()), 3),
            "centre_std_px": np.round(
                np.stack([apply(a, np.array([74.5, 74.5])) for a in stack]).std(axis=0), 2
            ).tolist(),
        }

    # ------------------------------------------------------------------ 3. warp
    def warp_ffhq(self) -> dict:
        faces, chips, points = [], [], []
        for index in HELD_OUT_FACES:
            rgb = self.ffhq_face(index)
            rects = self.dlib.faces(rgb)
            if len(rects) != 1:
                continue
            faces.append(rgb)
            chips.append(self.dlib.chip(rgb, rects[0])[0])
            points.append(self.dlib.points68(rgb, rects[0]))
        reference = self.descriptors_of_chips(chips)
        dlib_own = np.stack([self.dlib.descriptor(chip) for chip in chips])
        small = [cv2.resize(face, (128, 128), interpolation=cv2.INTER_AREA) for face in faces]
        at_256, at_128 = self.embed(faces), self.embed(small)
        ours_256 = self.landmarks(faces)
        dlib_points = np.stack(points)
        chip_px_per_face_px = 150 / (256 * self.identity.chip_scale)
        return {
            "faces": len(faces),
            "fixed_warp_256_vs_dlib_chip": summary(np.linalg.norm(at_256 - reference, axis=1)),
            "fixed_warp_128_vs_dlib_chip": summary(np.linalg.norm(at_128 - reference, axis=1)),
            "fixed_warp_128_vs_dlib_itself": summary(np.linalg.norm(at_128 - dlib_own, axis=1)),
            "landmarks_256_vs_dlib68_chip_px": summary(
                np.linalg.norm(ours_256 - dlib_points, axis=2).mean(axis=1) * chip_px_per_face_px
            ),
            "landmarks_256_vs_dlib68_nme": summary(
                landmark_distance(torch.from_numpy(ours_256), torch.from_numpy(dlib_points)).numpy()
            ),
            "landmarks_128_vs_256_nme": summary(
                landmark_distance(torch.from_numpy(self.landmarks(small) * 2 + 0.5), torch.from_numpy(ours_256)).numpy()
            ),
        }

    def warp_photos(self) -> dict:
        """Real test photos aligned by the app (MTCNN) against dlib's chip of the same face in the photo."""
        detector = create_detector("mtcnn")
        at: dict[int, list[np.ndarray]] = {128: [], 512: []}
        reference = []
        for path in self.test_photos():
            rgb = read_rgb(path)
            if max(rgb.shape[:2]) > 2000:
                continue
            rects = self.dlib.faces(rgb)
            for face in detect_faces(detector, rgb):
                centre = np.array([(face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2])
                match = [
                    r for r in rects if np.hypot(r.center().x - centre[0], r.center().y - centre[1]) < 0.2 * face.size
                ]
                if len(match) != 1:
                    continue
                reference.append(self.dlib.chip(rgb, match[0])[0])
                for size in at:
                    at[size].append(align_face(rgb, face.landmarks, size).image)
        reference_descriptors = self.descriptors_of_chips(reference)
        return {
            "faces": len(reference),
            **{
                f"app_aligned_{size}_vs_dlib_chip": summary(
                    np.linalg.norm(self.embed(faces) - reference_descriptors, axis=1)
                )
                for size, faces in at.items()
            },
        }

    # ------------------------------------------------------------------ 4. reference distances
    def different_people(self, pairs: int = 3000, seed: int = 0) -> dict:
        faces = [cv2.resize(self.ffhq_face(i), (128, 128), interpolation=cv2.INTER_AREA) for i in range(len(self.ffhq))]
        descriptors = self.embed(faces)
        rng = np.random.default_rng(seed)
        first = rng.integers(0, len(faces), pairs)
        second = (first + rng.integers(1, len(faces), pairs)) % len(faces)
        distances = np.linalg.norm(descriptors[first] - descriptors[second], axis=1)
        return {
            "faces": len(faces),
            "ffhq_pairs_128": summary(distances),
            "below_0.6": round(float((distances < 0.6).mean()), 4),
        }

    def altered_copies(self) -> dict:
        clean = [cv2.resize(self.ffhq_face(i), (128, 128), interpolation=cv2.INTER_AREA) for i in HELD_OUT_FACES]
        rng = np.random.default_rng(0)

        def jpeg(face: np.ndarray, quality: int) -> np.ndarray:
            _, data = cv2.imencode(".jpg", face[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
            return np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR))[:, :, ::-1]

        def noise(face: np.ndarray, sigma: float) -> np.ndarray:
            return np.clip(face + rng.normal(0, sigma, face.shape), 0, 255).astype(np.uint8)

        def downscale(face: np.ndarray, factor: int) -> np.ndarray:
            small = cv2.resize(face, (128 // factor, 128 // factor), interpolation=cv2.INTER_AREA)
            return cv2.resize(small, (128, 128), interpolation=cv2.INTER_CUBIC)

        alterations: dict[str, Callable[[np.ndarray], np.ndarray]] = {
            "flip": lambda f: np.ascontiguousarray(f[:, ::-1]),
            "blur_sigma_1": lambda f: cv2.GaussianBlur(f, (0, 0), 1.0),
            "blur_sigma_2": lambda f: cv2.GaussianBlur(f, (0, 0), 2.0),
            "jpeg_30": lambda f: jpeg(f, 30),
            "jpeg_10": lambda f: jpeg(f, 10),
            "noise_sigma_10": lambda f: noise(f, 10.0),
            "noise_sigma_25": lambda f: noise(f, 25.0),
            "downscale_2x": lambda f: downscale(f, 2),
            "downscale_4x": lambda f: downscale(f, 4),
            "grey": lambda f: np.repeat(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2),
        }
        base = self.embed(clean)
        base_points = self.landmarks(clean)
        results = {}
        for name, alter in alterations.items():
            altered = [alter(face) for face in clean]
            points = self.landmarks(altered)
            if name == "flip":  # mirror the points back and renumber them (left ↔ right) before comparing
                points = flip_landmarks(points, 128)
            results[name] = {
                "identity": summary(np.linalg.norm(self.embed(altered) - base, axis=1)),
                "landmark_nme": summary(
                    landmark_distance(torch.from_numpy(points), torch.from_numpy(base_points)).numpy()
                ),
            }
        return results

    def aligned_by_app(self, relative: str, detector) -> np.ndarray | None:
        rgb = read_rgb(self.data / "test" / relative)
        faces = detect_faces(detector, rgb)
        if not faces:
            return None
        biggest = max(faces, key=lambda f: f.size)
        return align_face(rgb, biggest.landmarks, 128).image

    def named_pairs(self) -> dict:
        detector = create_detector("mtcnn")
        results = {}
        for group, pairs in (
            ("same_person_other_photo", SAME_PERSON_PHOTOS),
            ("degraded_vs_reference", DEGRADED_AND_REFERENCE),
        ):
            distances = {}
            for first, second in pairs:
                faces = [self.aligned_by_app(first, detector), self.aligned_by_app(second, detector)]
                if any(face is None for face in faces):
                    continue
                descriptors = self.embed(faces)  # type: ignore[arg-type]
                distances[f"{Path(first).name} ~ {Path(second).name}"] = round(
                    float(np.linalg.norm(descriptors[0] - descriptors[1])), 4
                )
            results[group] = {"pairs": distances, "summary": summary(list(distances.values()))}
        return results


# Mirror order of the 68 iBUG points: the point each one becomes under a horizontal flip.
FLIPPED_ORDER = (
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
)


def flip_landmarks(points: np.ndarray, size: int) -> np.ndarray:
    mirrored = points.copy()
    mirrored[..., 0] = size - 1 - mirrored[..., 0]
    return mirrored[:, FLIPPED_ORDER]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="converted weights (default: .cache/face-api/)")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--only", nargs="*", help="run only these parts (conversion template warp distances)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    checker = Checker(FaceIdentity.load(args.weights), Dlib(), args.data)
    parts = {
        "conversion": checker.conversion,
        "template": checker.template,
        "warp_ffhq": checker.warp_ffhq,
        "warp_photos": checker.warp_photos,
        "different_people": checker.different_people,
        "altered_copies": checker.altered_copies,
        "named_pairs": checker.named_pairs,
    }
    results = {}
    for name, part in parts.items():
        if args.only and not any(name.startswith(prefix) for prefix in args.only):
            continue
        results[name] = part()
        print(name, json.dumps(results[name], indent=1), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
