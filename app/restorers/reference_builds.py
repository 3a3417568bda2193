"""The public face architectures in the configurations of their official files, built with random
weights from spandrel's own classes. The state dicts have the official files' keys and shapes, so they
load through the normal detection path and cost exactly what the real weights cost: for the benchmark
(`scripts/benchmark.py --plugins`) and the offline tests, where the real files cannot be downloaded."""

from __future__ import annotations

import torch


def gfpgan() -> torch.nn.Module:
    from spandrel.architectures.GFPGAN import GFPGAN

    # GFPGANv1.3/1.4 (GFPGAN's inference_gfpgan.py, arch 'clean')
    return GFPGAN(
        out_size=512,
        num_style_feat=512,
        channel_multiplier=2,
        decoder_load_path=None,
        fix_decoder=False,
        num_mlp=8,
        input_is_latent=True,
        different_w=True,
        narrow=1,
        sft_half=True,
    )


def restoreformer() -> torch.nn.Module:
    from spandrel.architectures.RestoreFormer import RestoreFormer

    return RestoreFormer()  # its defaults are RestoreFormer.pth's configuration


def codeformer() -> torch.nn.Module:
    from spandrel_extra_arches.architectures.CodeFormer import CodeFormer

    # codeformer.pth (CodeFormer's inference_codeformer.py)
    return CodeFormer(dim_embd=512, codebook_size=1024, n_head=8, n_layers=9, connect_list=["32", "64", "128", "256"])


# spandrel architecture id → (builder, official file name, catalogue name)
REFERENCE_BUILDS = {
    "GFPGAN": (gfpgan, "GFPGANv1.4.pth", "gfpgan-1.4"),
    "RestoreFormer": (restoreformer, "RestoreFormer.pth", "restoreformer"),
    "CodeFormer": (codeformer, "codeformer.pth", "codeformer"),
}


def official_layout_state(architecture: str, seed: int = 0) -> dict:
    """{'params_ema': state dict} with random weights, as the official file of `architecture` is laid out."""
    build = REFERENCE_BUILDS[architecture][0]
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        state = {key: value.detach().clone() for key, value in build().state_dict().items()}
    finally:
        torch.random.set_rng_state(generator_state)
    return {"params_ema": state}
