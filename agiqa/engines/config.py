"""Settings of the MLLM engine (hf or vLLM): which weights to load and how to run them.

What the method does with the engine (prompt set, heads, round 1 on or off) is the method's
configuration (`agiqa.methods.m3.config`), not the engine's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from agiqa.schema import StrictModel

#: Settings that change how fast an engine runs, never what it computes (left out of identities).
PERFORMANCE_ONLY = ("batch_size", "gpu_memory_utilization", "generate_memory_fraction", "max_num_seqs",
                    "tensor_parallel_size", "device")


class EngineConfig(StrictModel):
    name: Literal["hf", "vllm"] = Field("hf", description="Engine: 'hf' (transformers+peft) or 'vllm'.")
    model: str = Field(..., description="Base MLLM folder (Hugging Face format), e.g. from `agiqa make-tiny-model`.")
    adapters: str | None = Field(
        None, description="Folder with one PEFT LoRA adapter per aspect (<dir>/<aspect>/). Default: <model>/adapters."
    )
    device: str = Field("auto", description="'auto' (cuda if available, else cpu), 'cpu' or 'cuda[:N]'.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Model dtype: 'auto' is bfloat16 on GPU and float32 on CPU."
    )
    max_new_tokens: int = Field(128, ge=1, le=4096, description="Round-1 description length cap (greedy).")
    repetition_penalty: float = Field(
        1.0, gt=0, le=10, description="Round-1 decoding (greedy): the repetition penalty, 1.0 = none. Decoding is "
        "set here only: neither engine takes decoding settings from the checkpoint's generation_config.json "
        "(Qwen-VL Instruct ships 1.05); give that value here to decode as the checkpoint's authors did."
    )
    max_length: int = Field(
        512, ge=16, le=32768, description="Scoring-pass token cap (the reference's model_max_length)."
    )
    batch_size: int = Field(8, ge=1, le=4096, description="Rows per engine batch.")
    min_pixels: int = Field(56 * 56, ge=1, description="Processor lower bound on image pixels after resizing.")
    max_pixels: int = Field(448 * 448, ge=1, description="Processor upper bound on image pixels after resizing.")
    # vLLM-only options (ignored by hf).
    gpu_memory_utilization: float = Field(
        0.85, gt=0, le=1, description="vLLM: GPU memory share for the whole engine (both runners)."
    )
    generate_memory_fraction: float = Field(
        0.5, gt=0, lt=1, description="vLLM: share of gpu_memory_utilization given to the generation runner."
    )
    max_num_seqs: int = Field(64, ge=1, description="vLLM: max sequences scheduled at once.")
    tensor_parallel_size: int = Field(1, ge=1, description="vLLM: tensor parallel degree.")
    max_lora_rank: int = Field(64, ge=1, description="vLLM: the largest LoRA rank served.")

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", v):
            raise ValueError(f"{v!r} is not a device; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
        return v

    @model_validator(mode="after")
    def _pixels(self) -> EngineConfig:
        if self.min_pixels > self.max_pixels:
            raise ValueError("min_pixels must not exceed max_pixels")
        return self

    @property
    def adapters_dir(self) -> str:
        return self.adapters or str(Path(self.model) / "adapters")
