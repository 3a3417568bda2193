"""All IQPFR hyper-parameters in one dataclass (sized for CPU by default)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class IQPFRConfig:
    """Architecture of the IQPFR network (see ../shared/docs/iqpfr-method.md §2).

    The paper's model is 512 px with a /32 VQGAN and a 9-layer, 512-wide Transformer.
    This default is scaled down for CPU use: 128 px faces, /8 encoder (16×16 = 256 tokens
    as in the paper), two 512-entry codebooks and a 4-layer Transformer.
    """

    image_size: int = 128
    base_channels: int = 32
    channel_multipliers: tuple[int, ...] = (1, 2, 2, 4)
    res_blocks_per_level: int = 1
    attention_resolutions: tuple[int, ...] = (16,)
    embed_dim: int = 128
    common_codebook_size: int = 512
    hq_codebook_size: int = 512
    commitment_beta: float = 0.25
    hq_weight: float = 0.8            # λ in decoder input common + λ·HQ+
    hq_score_threshold: float = 0.7   # Stage I: HQ+ branch only for faces scoring above τ
    quality_bins: int = 10
    transformer_layers: int = 4
    transformer_dim: int = 256
    transformer_heads: int = 8
    transformer_mlp_ratio: int = 2
    dropout: float = 0.0

    def __post_init__(self) -> None:
        downsample = 2 ** (len(self.channel_multipliers) - 1)
        if self.image_size % downsample:
            raise ValueError(f"image_size {self.image_size} is not divisible by {downsample}")
        if self.transformer_dim % self.transformer_heads:
            raise ValueError("transformer_dim must be divisible by transformer_heads")
        for mult in self.channel_multipliers:
            if (self.base_channels * mult) % 32 and (self.base_channels * mult) % 8:
                raise ValueError("channel counts must be divisible by 8 for GroupNorm")

    @property
    def token_grid(self) -> int:
        """Side of the token map: image_size / 2^(levels-1)."""
        return self.image_size // 2 ** (len(self.channel_multipliers) - 1)

    @property
    def num_tokens(self) -> int:
        return self.token_grid ** 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "IQPFRConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        cleaned = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**cleaned)
