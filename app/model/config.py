"""All IQPFR hyper-parameters in one dataclass (sized for CPU by default)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

QUANTIZERS = ("fsq", "vq")


@dataclass(frozen=True)
class IQPFRConfig:
    """Architecture of the IQPFR network (see ../shared/docs/iqpfr-method.md §2).

    The paper's model is 512 px with a /32 VQGAN and a 9-layer, 512-wide Transformer.
    This default is scaled down for CPU use: 128 px faces, /8 encoder (16×16 = 256 tokens
    as in the paper), two codebooks and a 4-layer Transformer.

    Codebooks: ``quantizer="fsq"`` (default) uses finite scalar quantisation with ``fsq_levels``
    per dimension (the implicit codebook is their product: 8·5·5·5 = 1000 entries each), which
    cannot collapse; ``"vq"`` is the nearest-neighbour codebook of weights format 1.
    ``fidelity_scales``: decoder resolutions that receive encoder features through
    CodeFormer's controllable feature transformation (empty = codes only, as in format 1).
    ``quality_fusion``: the quality bin also adds a learned per-channel scale and shift inside each
    fusion, so the quality score reaches the decoder's fine detail, not only the codes (off in files
    written before it existed; those load unchanged).
    ``input_gate``: after the decoder, a small network decides per pixel how much of the input face to keep
    (scaled by the fidelity w), so a face with little to restore is not redrawn (off in older files).
    """

    image_size: int = 128
    base_channels: int = 32
    channel_multipliers: tuple[int, ...] = (1, 2, 2, 4)
    res_blocks_per_level: int = 1
    attention_resolutions: tuple[int, ...] = (16,)
    embed_dim: int = 128
    quantizer: str = "fsq"
    fsq_levels: tuple[int, ...] = (8, 5, 5, 5)
    common_codebook_size: int = 512  # "vq" only; FSQ's size is prod(fsq_levels)
    hq_codebook_size: int = 512  # "vq" only
    commitment_beta: float = 0.25
    hq_weight: float = 0.8  # λ in decoder input common + λ·HQ+
    hq_score_threshold: float = 0.7  # Stage I: HQ+ branch only for faces scoring above τ
    quality_bins: int = 10
    transformer_layers: int = 4
    transformer_dim: int = 256
    transformer_heads: int = 8
    transformer_mlp_ratio: int = 2
    dropout: float = 0.0
    fidelity_scales: tuple[int, ...] = (32, 64, 128)
    quality_fusion: bool = False  # the quality bin also modulates the fidelity fusion (per channel)
    input_gate: bool = False  # a learned per-pixel share of the input face kept at fidelity w (app/model/input_gate.py)
    input_gate_bands: tuple[float, ...] = ()  # the gate's band splits (Gaussian σ, px); () = one band

    def __post_init__(self) -> None:
        downsample = 2 ** (len(self.channel_multipliers) - 1)
        if self.image_size % downsample:
            raise ValueError(f"image_size {self.image_size} is not divisible by {downsample}")
        if self.transformer_dim % self.transformer_heads:
            raise ValueError("transformer_dim must be divisible by transformer_heads")
        for mult in self.channel_multipliers:
            if (self.base_channels * mult) % 8:  # layers.group_norm uses 32 groups, else 8
                raise ValueError("channel counts must be divisible by 8 for GroupNorm")
        if self.quantizer not in QUANTIZERS:
            raise ValueError(f"quantizer must be one of {QUANTIZERS}, not {self.quantizer!r}")
        valid_scales = set(self.skip_resolutions)
        if not set(self.fidelity_scales) <= valid_scales:
            raise ValueError(f"fidelity_scales must be among {sorted(valid_scales)}")

    @property
    def token_grid(self) -> int:
        """Side of the token map: image_size / 2^(levels-1)."""
        return self.image_size // 2 ** (len(self.channel_multipliers) - 1)

    @property
    def num_tokens(self) -> int:
        return self.token_grid**2

    @property
    def skip_resolutions(self) -> tuple[int, ...]:
        """Resolutions of the encoder levels above the token grid (where fusion can happen)."""
        return tuple(self.image_size // 2**i for i in range(len(self.channel_multipliers) - 1))

    def level_channels(self, resolution: int) -> int:
        level = (self.image_size // resolution).bit_length() - 1
        return self.base_channels * self.channel_multipliers[level]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> IQPFRConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        cleaned: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**cleaned)
