"""Stage III: the reward learns distortion, not PIQE (which prefers noise), and the optimisation
decodes through the fidelity path the app restores with."""

import numpy as np
import pytest

from app.cli import main
from app.model import load_checkpoint
from app.model.iqpfr import IQPFR
from app.training.reward import reward_examples
from conftest import SHARED_DATA, shared
from test_training import TINY_MODEL, _config

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _faces(count: int) -> list[np.ndarray]:
    import cv2

    from app.training.data import list_faces

    paths = list_faces([shared(SHARED_DATA / "train" / "celebahq")])[:count]
    return [cv2.resize(cv2.imread(str(p))[..., ::-1], (64, 64), interpolation=cv2.INTER_AREA) for p in paths]


def test_reward_targets_rate_clean_faces_best_and_every_degraded_copy_lower():
    faces = _faces(6)
    examples, targets = reward_examples(faces, seed=0, degraded_per_face=3)
    assert len(examples) == len(targets) == 24
    clean = targets[0::4]
    degraded = np.concatenate([targets[1::4], targets[2::4], targets[3::4]])
    assert np.all(clean == 1.0)
    assert np.all(degraded < 1.0) and np.all(degraded >= 0.0)
    assert degraded.std() > 0.05  # strengths vary, so the reward has something to learn


def test_stage_three_decodes_through_the_fidelity_path(tmp_path, monkeypatch):
    codebook_cfg = _config(tmp_path, "codebook", extra=TINY_MODEL, iterations=1)
    assert main(["train", "codebook", "--config", str(codebook_cfg), "--device", "cpu", "--no-progress"]) == 0
    init = f'init_weights = "{tmp_path / "codebook" / "weights.pt"}"'
    transformer_cfg = _config(tmp_path, "transformer", extra_train=init, iterations=1)
    assert main(["train", "transformer", "--config", str(transformer_cfg), "--no-progress"]) == 0

    fidelities = []
    decode = IQPFR.decode

    def recording_decode(self, codes, encoded=None, fidelity=0.0, quality=None):
        if encoded is not None:
            fidelities.append(fidelity.detach().flatten().clone())
        return decode(self, codes, encoded, fidelity, quality)

    monkeypatch.setattr(IQPFR, "decode", recording_decode)
    init = f'init_weights = "{tmp_path / "transformer" / "weights.pt"}"'
    extra = "[loss]\nreward_iterations = 2\nfidelity_full = 1.0\nfidelity_zero = 0.0\n"
    quality_cfg = _config(tmp_path, "quality", extra_train=init, extra=extra, iterations=2)
    assert main(["train", "quality", "--config", str(quality_cfg), "--no-progress"]) == 0
    assert len(fidelities) == 2 and all(bool((w == 1.0).all()) for w in fidelities)
    _model, info = load_checkpoint(tmp_path / "quality" / "weights.pt")
    assert info.metadata["stage"] == "III" and info.metadata["stage_III_iterations"] == 2


def test_each_single_distortion_costs_and_grain_is_among_them():
    from skimage.metrics import structural_similarity

    from app.metrics import luminance
    from app.training.reward import single_distortion

    face = _faces(1)[0]
    by_kind: dict[int, list[float]] = {0: [], 1: [], 2: []}
    for seed in range(30):
        kind = int(np.random.default_rng(seed).integers(3))
        variant = single_distortion(face, np.random.default_rng(seed))
        assert variant.shape == face.shape and variant.dtype == np.uint8
        by_kind[kind].append(structural_similarity(luminance(face), luminance(variant), data_range=255.0))
        if kind == 0:  # grain: full-resolution pixel noise, the broad image unchanged
            residual = variant.astype(np.float32) - face
            assert residual.std() > 1.5 and abs(residual.mean()) < 1.0
    assert all(len(scores) > 0 for scores in by_kind.values())
    assert all(max(scores) < 0.995 for scores in by_kind.values())


@pytest.mark.parametrize("contents", ["code", "text", "other network"])
def test_an_unusable_reward_file_is_a_clean_refusal(tmp_path, contents):
    """A reward.pt carrying code (a pickle), or one that is not a reward, is refused in the app's words, nothing
    in it run (it was: 'unexpected error (UnpicklingError …)')."""
    import torch

    from app.errors import TrainingSetupError
    from app.training.reward import load_reward
    from conftest import CodeInPickle

    path = tmp_path / "run" / "reward.pt"
    path.parent.mkdir()
    if contents == "code":
        torch.save({"state_dict": CodeInPickle(), "stats": {}}, path)
    elif contents == "text":
        path.write_text("not a reward")
    else:
        torch.save({"state_dict": {"conv.weight": torch.zeros(1)}, "stats": {}}, path)
    with pytest.raises(TrainingSetupError) as error:
        load_reward(path, torch.device("cpu"))
    message = str(error.value)
    assert message.startswith(f"Cannot use the quality reward {path}: ") and message.endswith(
        "Move it away and the run fits a new reward."
    )
    assert "Weights only load failed" not in message and "\n" not in message
    assert not CodeInPickle.ran
