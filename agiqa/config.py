"""One validated configuration tree for a scoring job (pydantic; unknown keys are refused).

Every field is documented once, here. The CLI, `jobs/score.py` and the Ray driver all build a
`JobConfig` and hand it down, so a bad value is refused before any work starts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agiqa.aspects import ASPECTS, check_aspects


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ColumnsConfig(_Strict):
    id: str = Field("id", description="Input column holding a row identifier (kept in the output).")
    image: str = Field("image", description="Input column holding encoded image bytes (PNG, JPEG, ...).")
    prompt: str = Field("prompt", description="Input column holding the generation prompt.")


class EngineConfig(_Strict):
    name: Literal["hf", "vllm"] = Field("hf", description="Engine: 'hf' (transformers+peft) or 'vllm'.")
    model: str = Field(..., description="Base MLLM folder (Hugging Face format), e.g. from `agiqa make-tiny-model`.")
    adapters: str | None = Field(
        None, description="Folder with one PEFT LoRA adapter per aspect (<dir>/<aspect>/). Default: <model>/adapters."
    )
    heads: str | None = Field(
        None, description="Folder with one M3 head per aspect (<dir>/<aspect>/). Default: <model>/heads."
    )
    prompt_set: str = Field("m3agiqa", description="Prompt template set (see `agiqa.prompts.PROMPT_SETS`).")
    device: str = Field("auto", description="'auto' (cuda if available, else cpu), 'cpu' or 'cuda[:N]'.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Model dtype: 'auto' is bfloat16 on GPU and float32 on CPU."
    )
    describe: bool = Field(
        True, description="Round 1 on: the MLLM describes the image first. Off: the assistant turn stays empty "
                          "(the ablation that shows what the description adds; heads must be trained the same way)."
    )
    max_new_tokens: int = Field(128, ge=1, le=4096, description="Round-1 description length cap (greedy).")
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

    @model_validator(mode="after")
    def _pixels(self) -> EngineConfig:
        if self.min_pixels > self.max_pixels:
            raise ValueError("min_pixels must not exceed max_pixels")
        return self

    @property
    def adapters_dir(self) -> str:
        return self.adapters or str(Path(self.model) / "adapters")

    @property
    def heads_dir(self) -> str:
        return self.heads or str(Path(self.model) / "heads")


class ImageLimits(_Strict):
    max_image_pixels: int = Field(
        64_000_000, ge=1, description="Decoded images larger than this are refused (decompression bombs)."
    )
    max_encoded_bytes: int = Field(64 * 1024 * 1024, ge=1, description="Encoded images larger than this are refused.")
    max_prompt_chars: int = Field(4000, ge=1, description="Longer prompts are truncated (and noted) before prompting.")


class StorageConfig(_Strict):
    endpoint_url: str | None = Field(
        None, description="S3 endpoint (S3-compatible servers). Default: AWS_ENDPOINT_URL or AWS itself."
    )
    region: str | None = Field(None, description="S3 region. Default: AWS_REGION / AWS_DEFAULT_REGION / us-east-1.")
    addressing_style: Literal["auto", "path", "virtual"] = Field("auto", description="S3 addressing style.")
    profile: str | None = Field(None, description="AWS profile name (credentials the usual AWS ways).")
    max_attempts: int = Field(6, ge=1, le=50, description="Attempts per storage call on transient faults.")
    connect_timeout_s: float = Field(10.0, gt=0, description="Storage connect timeout.")
    read_timeout_s: float = Field(60.0, gt=0, description="Storage read timeout.")
    read_block_bytes: int = Field(8 * 1024 * 1024, ge=64 * 1024, description="Ranged-GET block size.")


class RayConfig(_Strict):
    address: str | None = Field(None, description="Ray cluster address; default RAY_ADDRESS, else a local Ray.")
    num_actors: int | None = Field(
        None, ge=1, description="Scorer actors. Default: one per GPU in the cluster, or 1 on CPU-only clusters."
    )
    num_gpus_per_actor: float = Field(1.0, ge=0, description="GPUs per actor (fractions allowed; 0 on CPU).")
    num_cpus_per_actor: float = Field(1.0, ge=0, description="CPUs reserved per actor.")
    shards_in_flight_per_actor: int = Field(2, ge=1, le=64, description="Shards queued per actor.")
    max_shard_attempts: int = Field(3, ge=1, le=100, description="A shard failing this often is reported failed.")
    runner: Literal["ray", "local"] = Field("ray", description="'ray' (default) or 'local' (one process, no Ray).")


class JobConfig(_Strict):
    input: str = Field(..., description="Input root: a local folder or s3://bucket/prefix of *.parquet shards.")
    output: str = Field(..., description="Output root: scored shards keep their relative names here.")
    aspects: list[str] = Field(list(ASPECTS), description="Aspects to score.")
    columns: ColumnsConfig = Field(default_factory=ColumnsConfig)
    engine: EngineConfig
    images: ImageLimits = Field(default_factory=ImageLimits)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    overwrite: bool = Field(False, description="Redo shards that are already committed.")
    read_batch_rows: int = Field(64, ge=1, description="Rows read from a shard at a time (bounded memory).")
    progress: bool = Field(True, description="Show a progress bar on a terminal.")

    @field_validator("aspects")
    @classmethod
    def _aspects(cls, v: list[str]) -> list[str]:
        return list(check_aspects(v))

    def scoring_hash(self) -> str:
        """Hash of everything that changes the scores (not paths, parallelism or progress).

        A committed shard whose manifest carries this hash is skipped on rerun.
        """
        relevant = {
            "aspects": self.aspects,
            "columns": self.columns.model_dump(),
            "engine": self.engine.model_dump(
                exclude={"batch_size", "gpu_memory_utilization", "generate_memory_fraction", "max_num_seqs",
                         "tensor_parallel_size", "device"}
            ),
            "images": self.images.model_dump(),
        }
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def load_config(path: str | Path | None, overrides: dict | None = None) -> JobConfig:
    """Load a YAML config and apply CLI overrides (nested dicts merge), then validate once."""
    import yaml

    data: dict = {}
    if path is not None:
        text = Path(path).read_text()
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the config must be a YAML mapping, not {type(data).__name__}")
    merged = _deep_merge(data, overrides or {})
    return JobConfig.model_validate(merged)


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if v is None:
            continue
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        elif isinstance(v, dict):
            out[k] = _deep_merge({}, v)
        else:
            out[k] = v
    return out
