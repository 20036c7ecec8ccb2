"""Configuration of the M3-AGIQA regression head (xLSTM-style sibling config dataclass).

Defaults follow the reference (strawhatboy/M3-AGIQA, models/MiniCPM.py `MiniCPMIQA_xLSTMHeader`):
a 512-d projection, a 4-block xLSTM stack with sLSTM at block 1 (mLSTM, sLSTM, mLSTM, mLSTM),
mean pooling and a 512→128→1 MLP. The projection here maps *hidden states* (not vocabulary
logits): the reference's `Linear(vocab→512)` is folded with the LM head (see `fold.py`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

CONFIG_NAME = "head_config.json"
WEIGHTS_NAME = "head.safetensors"


@dataclass
class M3HeadConfig:
    hidden_size: int  # the MLLM's hidden size (input of the folded projection)
    embedding_dim: int = 512
    num_blocks: int = 4
    slstm_at: list[int] = field(default_factory=lambda: [1])
    context_length: int = 512
    mlstm_conv1d_kernel_size: int = 4
    mlstm_qkv_proj_blocksize: int = 4
    mlstm_num_heads: int = 4
    mlstm_proj_factor: float = 2.0
    slstm_backend: Literal["vanilla", "cuda"] = "vanilla"
    slstm_num_heads: int = 4
    slstm_conv1d_kernel_size: int = 4
    slstm_bias_init: str = "powerlaw_blockdependent"
    ff_proj_factor: float = 1.3
    ff_act_fn: str = "gelu"
    pooling: Literal["mean", "max", "last"] = "mean"
    mlp_hidden: int = 128
    aspect: str | None = None
    #: False for random-init heads (tiny models); scores of untrained heads mean nothing.
    trained: bool = False
    #: The scoring input the head was trained on, when it differs from the engine's: the token cap
    #: (the reference's `model_max_length`: 768 for AIGIQA-20K, 512 otherwise) and the image slice
    #: count (4 and 9). Engines that slice images and cut the tail (MiniCPM-V 2.5) use them.
    max_length: int | None = None
    max_slice_nums: int | None = None
    #: Free-form provenance (dataset, base model, importer), kept for audits.
    notes: dict = field(default_factory=dict)

    def validate(self) -> None:
        if self.hidden_size <= 0 or self.embedding_dim <= 0:
            raise ValueError("hidden_size and embedding_dim must be positive")
        if any(not 0 <= i < self.num_blocks for i in self.slstm_at):
            raise ValueError(f"slstm_at {self.slstm_at} outside 0..{self.num_blocks - 1}")
        if self.pooling not in ("mean", "max", "last"):
            raise ValueError(f"unknown pooling {self.pooling!r}; use mean, max or last")
        if self.embedding_dim % self.mlstm_num_heads or self.embedding_dim % self.slstm_num_heads:
            raise ValueError("embedding_dim must be divisible by the mLSTM and sLSTM head counts")

    def save(self, directory: str | Path) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / CONFIG_NAME).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> M3HeadConfig:
        path = Path(directory) / CONFIG_NAME
        if not path.is_file():
            raise FileNotFoundError(f"no M3 head at {directory}: {CONFIG_NAME} is missing")
        data = json.loads(path.read_text())
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown head config keys {unknown}")
        cfg = cls(**data)
        cfg.validate()
        return cfg
