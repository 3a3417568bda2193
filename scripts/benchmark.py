"""Per-face latency of the IQPFR stages (a benchmark, not a test).

    .venv/bin/python scripts/benchmark.py [--weights FILE | --untrained] [--device cpu|cuda] [--faces N]
                                          [--repeats R] [--threads T]

Prints the median milliseconds per face for: encoder, Transformer, decoder (codes only, and with the
fidelity path), a slider or fidelity change (`restore_from_features` on cached encoder output, with
the fidelity path off and on), and the whole photo path (detect, align, encode, restore, paste) on a
real 2-face photo, against the targets: a slider/fidelity change ≤ 150 ms per face, a whole 2-face
photo < 1 s on a 2-core CPU. `--untrained` times the current architecture (default config, with the
fidelity path) when no weights of that format exist yet.

    .venv/bin/python scripts/benchmark.py --plugins [GFPGAN RestoreFormer CodeFormer] [--device ...]

times the public plug-in models instead, per 512 px face, network only, in their official
configurations with random weights (the same cost as the real files, which need not be present): what
opening a photo costs per face, and what a slider change costs (GFPGAN/RestoreFormer: a blend, no
network; CodeFormer: the whole network for every fidelity weight w).

    .venv/bin/python scripts/benchmark.py --upscaler [--upscaler-photo FILE] [--upscaler-crop PX] [--threads T]

times the background upscaler (Real-ESRGAN x4plus, `--background realesrgan`) on one crop of a real old photo
with both runtimes in one run, side by side: PyTorch (the converted weights; float32 on the CPU, float16 on a
GPU) and ncnn (CPU), each with its own tile size, as `iqpfr restore --upscale 2` runs them; seconds per input
megapixel (wall and CPU clock), median of --repeats (a fifth of it, at least 1).

    .venv/bin/python scripts/benchmark.py --identity [--faces 16] [--device ...]

times the identity measure as a training loss (`app.faces.identity`: warp, descriptor, distance; forward and
backward to the faces) per batch of 128 px faces, in float32 and under bfloat16 autocast, and the landmarks.

    .venv/bin/python scripts/benchmark.py --memory [--weights FILE] [--threads T]

measures peak memory (the peak resident set, ru_maxrss, of a fresh process per row, so peaks do not mix):
`iqpfr restore` (load, restore, save) and the window (open, two slider moves with the preview, save) on a
photo of 1, 36 and 100 faces, made by tiling a real one-face photo into the same 10×10 canvas (grey where
there is no face, so only the number of faces changes), and `iqpfr restore` of a 50 MP photo with two
2,000-3,000 px faces (the 2-face photo upscaled). The target: memory flat in the number of faces, within
MEMORY_PER_FACE_TARGET_MB per face from 1 to 100 faces.

    .venv/bin/python scripts/benchmark.py --cli [--photo FILE] [--repeats R]

times `iqpfr` commands in fresh processes (`python -m app.cli` of this checkout), each as a ratio to
`python -c "import torch"` timed in the same run: `--help`, `models list` and an argument error (target
≤ 0.2×; median of --repeats) and `restore` of the 2-face --photo with the shipped model (target
≤ 2×; median of a fifth of --repeats, at least 1), and `iqpfr batch` of --batch-folder against what the
window's Batch export runs on it (`app.batch.run_batch` with the restorer already loaded, in this process):
target: the command's whole wall time (start-up included) ≤ 1.2× the export's.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.device import describe_device, resolve_device
from app.model import load_model, untrained_model

SLIDER_TARGET_MS, PHOTO_TARGET_MS = 150.0, 1000.0
MEMORY_PER_FACE_TARGET_MB = 2.0
CLI_START_TARGET, CLI_RESTORE_TARGET = 0.2, 2.0  # × `python -c "import torch"` on the same machine, same run
CLI_BATCH_TARGET = 1.2  # `iqpfr batch` wall ≤ this × the window's Batch export of the same folder (model loaded)
MEMORY_FACE_COUNTS = (1, 36, 100)
MEMORY_CANVAS_TILES = 10  # tiles per side of the many-face photo: room for 100 faces
REPO = Path(__file__).resolve().parent.parent
DATA_TEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "test"
ONE_FACE_PHOTO = DATA_TEST / "codeformer-inputs" / "whole_imgs" / "04.jpg"


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def timed(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = clock()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        samples.append(clock() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--weights")
    source.add_argument("--untrained", action="store_true", help="random weights, current default architecture")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--faces", type=int, default=1, help="faces per batch")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch (default 2)")
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="wall",
        help="wall (default), or cpu: this process's CPU time, which a busy machine inflates "
        "less (with --threads 1 it approximates wall time on an idle core)",
    )
    parser.add_argument(
        "--plugins",
        nargs="*",
        metavar="ARCH",
        help="time the public plug-in models instead (default: all of GFPGAN, RestoreFormer, "
        "CodeFormer); repeats: a fifth of --repeats, at least 1",
    )
    parser.add_argument("--upscaler", action="store_true", help="time the background upscaler's two runtimes")
    parser.add_argument(
        "--upscaler-photo",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared/data/test/bopbtl-test_images/old/a.png",
    )
    parser.add_argument("--upscaler-crop", type=int, default=256, help="side of the crop timed (default 256 px)")
    parser.add_argument("--identity", action="store_true", help="time the identity measure as a training loss")
    parser.add_argument(
        "--photo",
        type=Path,
        default=Path(__file__).resolve().parents[2]
        / "shared"
        / "data"
        / "test"
        / "gfpgan-inputs"
        / "whole_imgs"
        / "Blake_Lively.jpg",
    )
    parser.add_argument("--memory", action="store_true", help="measure peak memory instead (see above)")
    parser.add_argument("--cli", action="store_true", help="time `iqpfr` commands against `import torch` (see above)")
    parser.add_argument("--batch-folder", type=Path, default=DATA_TEST / "gfpgan-inputs" / "whole_imgs")
    parser.add_argument("--memory-child", nargs=2, metavar=("CASE", "PHOTO"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.memory_child:
        return memory_child(args, args.memory_child[0], Path(args.memory_child[1]))
    if args.memory:
        return benchmark_memory(args)
    if args.cli:
        return benchmark_cli(args.photo, args.batch_folder, args.repeats)
    global clock
    clock = CLOCKS[args.clock]
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if args.plugins is not None:
        return benchmark_plugins(args.plugins, device, max(1, args.repeats // 5), args.faces)
    if args.upscaler:
        return benchmark_upscaler(args.upscaler_photo, args.upscaler_crop, device, max(1, args.repeats // 5))
    if args.identity:
        return benchmark_identity(device, args.repeats, args.faces)
    model, info = untrained_model() if args.untrained else load_model(args.weights, device)
    model = model.to(device).eval()
    fidelity = info.default_fidelity
    size = model.cfg.image_size
    faces = torch.rand(args.faces, 3, size, size, device=device) * 2 - 1
    with torch.no_grad():
        encoded = model.encode(faces)
        prediction = model.predict_codes(encoded.features, 0.9)
        codes = model.fuse_codes(prediction.common_indices, prediction.hq_indices)
        rows = {
            "encode": timed(lambda: model.encode(faces), args.repeats, device),
            "transformer": timed(lambda: model.predict_codes(encoded.features, 0.9), args.repeats, device),
            "decode (codes only)": timed(lambda: model.decode(codes), args.repeats, device),
        }
        if model.has_fidelity:
            rows[f"decode (fidelity path, w {fidelity:g})"] = timed(
                lambda: model.decode(codes, encoded, fidelity), args.repeats, device
            )
        slider = {
            "slider/fidelity change, fidelity path off (w 0)": timed(
                lambda: model.restore_from_features(encoded, 0.5, 0.0), args.repeats, device
            )
        }
        if model.has_fidelity:
            slider[f"slider/fidelity change, fidelity path on (w {fidelity:g})"] = timed(
                lambda: model.restore_from_features(encoded, 0.5, fidelity), args.repeats, device
            )
    print(
        f"model: {info.describe()} · {size}px faces · fidelity path: {'yes' if model.has_fidelity else 'no'} · "
        f"device: {describe_device(device)} · batch of {args.faces} face(s) · median of {args.repeats} "
        f"· {args.clock} clock"
    )
    for name, seconds in rows.items():
        print(f"  {name:<58} {1000 * seconds / args.faces:8.1f} ms/face")
    for name, seconds in slider.items():
        ms = 1000 * seconds / args.faces
        verdict = "meets" if ms <= SLIDER_TARGET_MS else "MISSES"
        print(f"  {name:<58} {ms:8.1f} ms/face  ({verdict} the ≤ {SLIDER_TARGET_MS:.0f} ms target)")

    if args.photo.exists():
        from app.faces import create_detector
        from app.photo_io import load_photo
        from app.pipeline import FaceRestorer

        restorer = FaceRestorer(model, info, create_detector("mtcnn", device), device)
        photo = load_photo(args.photo)
        prepared = restorer.prepare(photo)
        whole = 1000 * timed(lambda: restorer.restore(photo, 0.9), max(3, args.repeats // 3), device)
        verdict = "meets" if whole < PHOTO_TARGET_MS else "MISSES"
        print(
            f"  whole photo {args.photo.name} ({photo.width}×{photo.height}, {prepared.face_count} faces): "
            f"{whole:.0f} ms (detect + align + encode + restore + paste; {verdict} the < "
            f"{PHOTO_TARGET_MS:.0f} ms target)"
        )
        large_photo_slider_move(restorer, photo)
        many_faces_slider_move(restorer)
    return 0


def large_photo_slider_move(restorer, photo, megapixels: float = 50.0) -> None:
    """A slider move on a large photo (the same photo upscaled): restoring the faces, then pasting them at full
    resolution (what saving does) or onto the window's preview (what a slider move does)."""
    import cv2

    from app.pipeline import DEFAULT_PREVIEW_PIXELS, compose

    scale = (megapixels * 1e6 / (photo.width * photo.height)) ** 0.5
    large = photo.with_pixels(cv2.resize(photo.pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC))
    prepared = restorer.prepare(large)
    faces = restorer.restore_faces(prepared, 0.9)
    restore_ms = 1000 * timed(lambda: restorer.restore_faces(prepared, 0.9), 2, restorer.device)
    full_ms = 1000 * timed(lambda: compose(prepared, faces.faces), 1, restorer.device)
    preview_ms = 1000 * timed(
        lambda: compose(prepared, faces.faces, max_pixels=DEFAULT_PREVIEW_PIXELS), 3, restorer.device
    )
    height, width = large.pixels.shape[:2]
    print(
        f"  slider move on a {width}×{height} upscale ({prepared.face_count} faces): restore {restore_ms:.0f} ms, "
        f"paste at full resolution {full_ms:.0f} ms, onto the {DEFAULT_PREVIEW_PIXELS / 1e6:.0f} MP preview "
        f"{preview_ms:.0f} ms"
    )


def benchmark_identity(device: torch.device, repeats: int, faces: int, size: int = 128) -> int:
    """The identity loss per batch (the cost is the same with random weights when the converted file is absent)."""
    from app.faces.face_api_nets import FaceDescriptorNet, FaceLandmarkNet
    from app.faces.identity import FaceIdentity, default_weights_path, identity_distance

    path = default_weights_path()
    identity = (
        FaceIdentity.load(path, device) if path.is_file() else FaceIdentity(FaceDescriptorNet(), FaceLandmarkNet())
    )
    identity = identity.to(device)
    restored = (torch.rand(faces, 3, size, size, device=device) * 2 - 1).requires_grad_(True)
    with torch.no_grad():
        target = identity.embed(torch.rand(faces, 3, size, size, device=device) * 2 - 1)

    def loss_step(bf16: bool) -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = identity_distance(identity.embed(restored), target).mean()
        loss.backward()

    def landmarks() -> None:
        with torch.no_grad():
            identity.landmarks(restored)

    print(
        f"identity measure ({'converted weights' if path.is_file() else 'random weights'}) · {size} px faces · "
        f"device: {describe_device(device)} · batch of {faces} · median of {repeats} · "
        f"{'cpu' if clock is time.process_time else 'wall'} clock"
    )
    rows = {
        "identity loss, forward + backward, float32": timed(lambda: loss_step(False), repeats, device),
        "identity loss, forward + backward, bfloat16 autocast": timed(lambda: loss_step(True), repeats, device),
        "landmarks, forward only, float32": timed(landmarks, repeats, device),
    }
    fp32 = rows["identity loss, forward + backward, float32"]
    for name, seconds in rows.items():
        print(f"  {name:<54} {1000 * seconds:8.1f} ms/batch  ({seconds / fp32:.2f}× the float32 loss's time)")
    return 0


def many_faces_slider_move(restorer, faces: int = 36) -> None:
    """A slider move on a photo with more faces than the window keeps encoder work for (CACHED_FACES): the faces
    past it are encoded again on each move. Against the same photo with every face's work kept (ratio)."""
    import tempfile

    from app.photo_io import load_photo
    from app.pipeline import CACHED_FACES

    with tempfile.TemporaryDirectory() as folder:
        photo = load_photo(_many_face_photo(Path(folder), faces))
    prepared = restorer.prepare(photo)
    every_face = restorer.prepare(photo, cached_faces=prepared.face_count)
    kept_ms = 1000 * timed(lambda: restorer.restore_faces(prepared, 0.9), 2, restorer.device)
    all_ms = 1000 * timed(lambda: restorer.restore_faces(every_face, 0.9), 2, restorer.device)
    print(
        f"  slider move on a {prepared.face_count}-face photo (encoder work kept for {CACHED_FACES} faces): "
        f"{kept_ms:.0f} ms; with every face's kept {all_ms:.0f} ms (× {kept_ms / all_ms:.2f})"
    )


def benchmark_cli(photo: Path, batch_folder: Path, repeats: int) -> int:
    """`iqpfr` commands' wall time in fresh processes, as ratios to `python -c "import torch"` (see above)."""
    import subprocess
    import tempfile

    def median_wall(command: list[str], times: int, exit_code: int = 0) -> float:
        walls = []
        for _ in range(times):
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
            walls.append(time.perf_counter() - start)
            if done.returncode != exit_code:
                raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
        return statistics.median(walls)

    iqpfr = [sys.executable, "-m", "app.cli"]
    torch_import = median_wall([sys.executable, "-c", "import torch"], repeats)
    print(f'`python -c "import torch"`: {torch_import:.2f} s wall (median of {repeats}); iqpfr = python -m app.cli')
    met = True

    def row(label: str, seconds: float, target: float) -> None:
        nonlocal met
        ratio = seconds / torch_import
        met = met and ratio <= target
        verdict = "meets" if ratio <= target else "MISSES"
        print(f"  {label:<44} {seconds:6.2f} s  {ratio:5.2f}× import torch  ({verdict} the ≤ {target:g}× target)")

    row("iqpfr --help", median_wall([*iqpfr, "--help"], repeats), CLI_START_TARGET)
    row("iqpfr models list", median_wall([*iqpfr, "models", "list"], repeats), CLI_START_TARGET)
    row("iqpfr restore (argument error)", median_wall([*iqpfr, "restore"], repeats, exit_code=2), CLI_START_TARGET)
    with tempfile.TemporaryDirectory() as folder:
        restore = [*iqpfr, "restore", str(photo), str(Path(folder) / photo.name), "--overwrite"]
        row(f"iqpfr restore {photo.name}", median_wall(restore, max(1, repeats // 5)), CLI_RESTORE_TARGET)
        batch = [*iqpfr, "batch", str(batch_folder), str(Path(folder) / "cli"), "--no-progress", "--overwrite"]
        command_wall = median_wall(batch, max(1, repeats // 5))
        export_wall, report = window_batch_export(batch_folder, Path(folder) / "window", max(1, repeats // 5))
    ratio = command_wall / export_wall
    met = met and ratio <= CLI_BATCH_TARGET
    print(
        f"  iqpfr batch {batch_folder.name} ({report.summary()}): {command_wall:.2f} s; the window's Batch export "
        f"{export_wall:.2f} s: {ratio:.2f}× ({'meets' if ratio <= CLI_BATCH_TARGET else 'MISSES'} the ≤ "
        f"{CLI_BATCH_TARGET:g}× target)"
    )
    return 0 if met else 1


def window_batch_export(folder: Path, output: Path, times: int):
    """Median wall time of `run_batch` on `folder` with a restorer loaded beforehand, as the window's Batch export
    runs it (the window has its model loaded when a batch starts), and the last report."""
    from app.batch import run_batch
    from app.pipeline import FaceRestorer

    restorer = FaceRestorer.create(None, "mtcnn", "auto")
    walls = []
    for _ in range(times):
        start = time.perf_counter()
        report = run_batch(restorer, folder, output, 0.9, True, lambda *_: None)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls), report


def benchmark_memory(args: argparse.Namespace) -> int:
    """Peak memory of each case in a fresh process (see the module's docstring)."""
    import json
    import subprocess
    import tempfile

    def peak(case: str, photo: Path) -> dict:
        command = [sys.executable, __file__, "--memory-child", case, str(photo), "--threads", str(args.threads)]
        command += ["--weights", args.weights] if args.weights else []
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            raise SystemExit(f"memory case {case} {photo.name} failed:\n{done.stderr[-2000:]}")
        return json.loads(lines[-1])

    print(
        f"peak memory (ru_maxrss of a fresh process each; the model and libraries are loaded in each) · "
        f"{MEMORY_CANVAS_TILES}×{MEMORY_CANVAS_TILES} canvas of {ONE_FACE_PHOTO.name} tiles"
    )
    flat = True
    with tempfile.TemporaryDirectory() as folder:
        photos = {faces: _many_face_photo(Path(folder), faces) for faces in MEMORY_FACE_COUNTS}
        for case, label in (
            ("restore", "iqpfr restore (load, restore, save)"),
            ("window", "window (open, 2 slider moves, save)"),
        ):
            peaks = {}
            for faces, photo in photos.items():
                result = peak(case, photo)
                peaks[faces] = result["peak_mb"]
                print(f"  {label:<38} {faces:>3} faces ({result['faces']} found): {result['peak_mb']:6.0f} MB peak")
            first, last = MEMORY_FACE_COUNTS[0], MEMORY_FACE_COUNTS[-1]
            slope = (peaks[last] - peaks[first]) / (last - first)
            flat = flat and slope <= MEMORY_PER_FACE_TARGET_MB
            verdict = "meets" if slope <= MEMORY_PER_FACE_TARGET_MB else "MISSES"
            print(
                f"  {'':<38} {slope:+.2f} MB per face from {first} to {last} faces ({verdict} the ≤ "
                f"{MEMORY_PER_FACE_TARGET_MB:g} MB target)"
            )
        result = peak("restore", _large_photo(Path(folder), args.photo))
        print(
            f"  iqpfr restore of a 50 MP photo ({args.photo.name} upscaled; {result['faces']} faces of "
            f"{result['face_sizes']} px): {result['peak_mb']:.0f} MB peak"
        )
    return 0 if flat else 1


def _many_face_photo(folder: Path, faces: int) -> Path:
    """`faces` copies of the one-face photo in a grey MEMORY_CANVAS_TILES² canvas, as a JPEG file."""
    import numpy as np

    from app.photo_io import load_photo, save_photo

    tile = load_photo(ONE_FACE_PHOTO)
    height, width = tile.pixels.shape[:2]
    canvas = np.full((height * MEMORY_CANVAS_TILES, width * MEMORY_CANVAS_TILES, 3), 128, np.uint8)
    for index in range(faces):
        row, column = divmod(index, MEMORY_CANVAS_TILES)
        canvas[row * height : (row + 1) * height, column * width : (column + 1) * width] = tile.pixels
    return save_photo(tile.with_pixels(canvas), folder / f"faces-{faces}.jpg")


def _large_photo(folder: Path, photo_path: Path, megapixels: float = 50.0) -> Path:
    import cv2

    from app.photo_io import load_photo, save_photo

    photo = load_photo(photo_path)
    scale = (megapixels * 1e6 / (photo.width * photo.height)) ** 0.5
    large = photo.with_pixels(cv2.resize(photo.pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC))
    return save_photo(large, folder / f"large-{photo_path.stem}.jpg")


def memory_child(args: argparse.Namespace, case: str, source: Path) -> int:
    """One memory case, in this (fresh) process; prints its result as a JSON line."""
    import json
    import resource
    import tempfile

    from app.photo_io import load_photo, save_photo
    from app.pipeline import DEFAULT_PREVIEW_PIXELS, FaceRestorer, compose

    torch.set_num_threads(args.threads)
    restorer = FaceRestorer.create(args.weights, "mtcnn", "cpu")
    with tempfile.TemporaryDirectory() as folder:
        if case == "window":
            prepared = restorer.prepare(load_photo(source))
            for quality in (0.9, 0.5):  # opening shows the first result, then one slider move
                restored = restorer.restore_faces(prepared, quality)
                compose(prepared, restored.faces, max_pixels=DEFAULT_PREVIEW_PIXELS)
            photo = restored.photo(prepared).photo
        else:  # what FaceRestorer.restore does, keeping the detections to report the faces' sizes
            prepared = restorer.prepare(load_photo(source), cached_faces=0)
            photo = restorer.restore_prepared(prepared, 0.9).photo
        save_photo(photo, Path(folder, "saved.jpg"))
    sizes = sorted(round(face.detection.size) for face in prepared.faces)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"faces": prepared.face_count, "face_sizes": ", ".join(map(str, sizes[:3])), "peak_mb": peak_mb}))
    return 0


def benchmark_plugins(names: list[str], device: torch.device, repeats: int, faces: int) -> int:
    from app.restorers.plugin import load_plugin
    from app.restorers.reference_builds import REFERENCE_BUILDS, official_layout_state

    unknown = sorted(set(names) - set(REFERENCE_BUILDS))
    if unknown:
        print(f"unknown plug-in architecture(s) {', '.join(unknown)}; known: {', '.join(REFERENCE_BUILDS)}")
        return 2
    print(
        f"plug-in models, random weights in the official configurations · device: {describe_device(device)} · "
        f"batch of {faces} face(s) · median of {repeats} · {'cpu' if clock is time.process_time else 'wall'} clock"
    )
    for architecture in names or list(REFERENCE_BUILDS):
        file_name = REFERENCE_BUILDS[architecture][1]
        network = load_plugin(Path(file_name), device, official_layout_state(architecture))
        size = network.descriptor.face_size
        batch = torch.rand(faces, 3, size, size, device=device) * 2 - 1
        if network.descriptor.has_strength:
            seconds = timed(functools.partial(network.encode, batch), repeats, device)
            slider = "strength change: a blend, no network"
        else:
            seconds = timed(
                functools.partial(network.restore, None, batch, 0.0, network.default_fidelity), repeats, device
            )
            slider = "every fidelity (w) change runs the whole network again"
        print(f"  {architecture:<14} {size} px: {seconds / faces:6.2f} s per face to restore ({slider})")
        del network
    return 0


def benchmark_upscaler(photo_path: Path, crop: int, device: torch.device, repeats: int) -> int:
    """Seconds per input megapixel of Real-ESRGAN x4plus at 2× through each runtime, on the same crop."""
    import numpy as np

    from app.photo_io import load_photo
    from app.upscaling.runtime import load_runtime, ncnn_available
    from app.upscaling.tiles import network_pixels, upscale_tiled

    pixels = load_photo(photo_path).rgb8()
    height, width = pixels.shape[:2]
    top, left = max(0, (height - crop) // 2), max(0, (width - crop) // 2)
    pixels = np.ascontiguousarray(pixels[top : top + crop, left : left + crop])
    crop_height, crop_width = pixels.shape[:2]
    megapixels = crop_height * crop_width / 1e6
    runtimes = [("torch", device)]
    if ncnn_available():
        runtimes.append(("ncnn", torch.device("cpu")))
    print(
        f"background upscaler (Real-ESRGAN x4plus) at 2× on a {pixels.shape[1]}×{pixels.shape[0]} crop of "
        f"{photo_path.name} ({megapixels:.3f} MP) · torch threads {torch.get_num_threads()} · median of {repeats}"
    )
    for name, on in runtimes:
        runtime = load_runtime(on, name)
        runtime.run(pixels[:16, :16].astype(np.float32) / 255.0)  # warm-up
        walls, cpus = [], []
        for _ in range(repeats):
            if on.type == "cuda":
                torch.cuda.synchronize()
            wall, cpu = time.perf_counter(), time.process_time()
            upscale_tiled(pixels, runtime, 2, runtime.tile)
            if on.type == "cuda":
                torch.cuda.synchronize()
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        overhead = network_pixels(crop_height, crop_width, runtime.tile) / (crop_height * crop_width)
        print(
            f"  {runtime.description:<34} tiles of {runtime.tile} px (network runs on {overhead:.2f}× the pixels): "
            f"{statistics.median(walls) / megapixels:7.1f} s per input MP (wall), "
            f"{statistics.median(cpus) / megapixels:7.1f} CPU-s per input MP"
        )
        del runtime
    return 0


if __name__ == "__main__":
    sys.exit(main())
