"""Settings of the MLLM engine (hf or vLLM): which weights to load and how to run them.

What the method does with the engine (prompt set, heads, round 1 on or off) is the method's
configuration (`agiqa.methods.m3.config`), not the engine's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from agiqa.schema import StrictModel

#: Settings that change how fast an engine runs, never what it computes (left out of identities).
PERFORMANCE_ONLY = ("batch_size", "gpu_memory_utilization", "max_num_seqs", "max_pending", "vllm_driver", "static_cache",
                    "tensor_parallel_size", "device")
#: Settings older configs may carry that no longer do anything: dropped with a warning, not refused.
RETIRED = {"generate_memory_fraction": "one vLLM engine now serves both rounds, so there is nothing to split"}


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
    max_new_tokens: int | None = Field(
        None, ge=1, le=4096, description="Round-1 description length cap. Default: the model family's (see `decoding`)."
    )
    num_beams: int | None = Field(
        None, ge=1, le=16, description="Round-1 beams (1 = greedy). Default: the model family's (see `decoding`)."
    )
    repetition_penalty: float | None = Field(
        None, ge=1.0, le=10.0, description="Round-1 repetition penalty. Default: the model family's (see `decoding`)."
    )
    max_length: int = Field(
        512, ge=16, le=32768, description="Scoring-pass token cap (the reference's model_max_length)."
    )
    batch_size: int = Field(8, ge=1, le=4096, description="Rows per engine batch (hf: all their aspects' requests "
                            "in one call when the adapters are plain LoRA, so memory grows with the aspects).")
    min_pixels: int = Field(56 * 56, ge=1, description="Processor lower bound on image pixels after resizing.")
    max_pixels: int = Field(448 * 448, ge=1, description="Processor upper bound on image pixels after resizing.")
    static_cache: bool = Field(
        False, description="hf (Qwen2-VL family): round 1 with a static KV cache, which transformers compiles the "
        "decode step for on CUDA (same text; measured by bench/bench_gpu_engine.py --static-cache).")
    # vLLM-only options (ignored by hf).
    gpu_memory_utilization: float = Field(
        0.85, gt=0, le=1, description="vLLM: GPU memory share for the engine (weights, KV cache, activations)."
    )
    max_num_seqs: int = Field(64, ge=1, description="vLLM: max sequences scheduled at once.")
    max_pending: int = Field(
        256, ge=1, description="vLLM: requests submitted and not yet finished, per engine (the rest wait in agiqa)."
    )
    vllm_driver: Literal["auto", "async", "inproc"] = Field(
        "auto", description="vLLM: 'async' (AsyncLLM, engine core in its own process), 'inproc' (LLMEngine stepped "
        "in this process); 'auto' is async on a GPU and inproc on CPU."
    )
    tensor_parallel_size: int = Field(1, ge=1, description="vLLM: tensor parallel degree.")
    max_lora_rank: int = Field(64, ge=1, description="vLLM: the largest LoRA rank served.")

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data):
        if isinstance(data, dict) and any(k in data for k in RETIRED):
            import logging

            data = dict(data)
            for k in [k for k in data if k in RETIRED]:
                data.pop(k)
                logging.getLogger(__name__).warning("engine setting %r is ignored: %s", k, RETIRED[k])
        return data

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


@dataclass(frozen=True)
class Decoding:
    """How round 1 decodes: what each model family's reference does, unless the config says otherwise."""

    num_beams: int
    repetition_penalty: float
    max_new_tokens: int


#: Per model family. Qwen2-VL (agiqa's own adapters): greedy, 128 tokens (the reference's descriptions
#: are ~100 tokens). MiniCPM-V 2.5 (the authors' adapters): what its `chat(..., sampling=False)` does:
#: beam search with 3 beams, repetition penalty 1.2, up to 1024 new tokens (FIDELITY.md row 1).
FAMILY_DECODING = {
    "default": Decoding(num_beams=1, repetition_penalty=1.0, max_new_tokens=128),
    "minicpmv-2.5": Decoding(num_beams=3, repetition_penalty=1.2, max_new_tokens=1024),
}


def decoding(cfg: EngineConfig, family: str = "default") -> Decoding:
    base = FAMILY_DECODING.get(family, FAMILY_DECODING["default"])
    return Decoding(
        num_beams=cfg.num_beams if cfg.num_beams is not None else base.num_beams,
        repetition_penalty=cfg.repetition_penalty if cfg.repetition_penalty is not None else base.repetition_penalty,
        max_new_tokens=cfg.max_new_tokens if cfg.max_new_tokens is not None else base.max_new_tokens,
    )
