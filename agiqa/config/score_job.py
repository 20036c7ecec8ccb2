"""`agiqa score`'s configuration: which shards, which method (by name), which aspects, where to run."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SerializeAsAny, field_validator, model_validator

from agiqa.aspects import ASPECTS, check_aspects
from agiqa.config.base import deep_merge, read_yaml
from agiqa.config.legacy import upgrade_score_config
from agiqa.config.prefilter import PrefilterConfig
from agiqa.config.runner import ResourcesConfig, RunnerConfig
from agiqa.data.config import ColumnsConfig, ImageLimits
from agiqa.methods.base import MethodConfig
from agiqa.methods.registry import DEFAULT_METHOD, import_method_modules, method_config
from agiqa.schema import StrictModel
from agiqa.storage.config import StorageConfig

#: The stages of a score job (keys of `resources:`): the prefilter's only runs when `prefilter:` is set.
SCORE_STAGES = ("score", "prefilter")


class ScoreJobConfig(StrictModel):
    input: str = Field(..., description="Input root: a local folder or s3://bucket/prefix of *.parquet shards.")
    output: str = Field(..., description="Output root: scored shards keep their relative names here.")
    aspects: list[str] = Field(list(ASPECTS), description="Aspects to score.")
    imports: list[str] = Field(
        default_factory=list, description="Modules imported before the method is looked up: where methods of your "
                                          "own call `register_method` (as `agiqa score --import`).")
    method: SerializeAsAny[MethodConfig] = Field(
        ..., description="The scoring method, by name, with its settings: {name: m3-agiqa, engine: {...}, ...} "
                         "(without a name: the default method, `agiqa.methods.registry.DEFAULT_METHOD`)."
    )
    prefilter: PrefilterConfig | None = Field(
        None, description="A cascade: a cheap method scores every row first; only the rows its rules pass go "
                          "through `method` (the rest keep the cheap score, status `prefiltered`).")
    columns: ColumnsConfig = Field(default_factory=ColumnsConfig)
    images: ImageLimits = Field(default_factory=ImageLimits)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
    resources: dict[str, ResourcesConfig] = Field(
        default_factory=dict, description="Per stage ('score'): actors, GPUs and CPUs per actor (overrides)."
    )
    overwrite: bool = Field(False, description="Redo shards that are already committed.")
    read_batch_rows: int = Field(64, ge=1, description="Rows read from a shard at a time (bounded memory).")
    progress: bool = Field(True, description="Show a progress bar on a terminal.")

    @model_validator(mode="before")
    @classmethod
    def _old_spelling(cls, data):
        # the one place old spellings are translated (every entry validates here; new spellings merged in win)
        return upgrade_score_config(data)

    @model_validator(mode="before")
    @classmethod
    def _imports_first(cls, data):
        if isinstance(data, dict):
            import_method_modules(data.get("imports"), "imports")
        return data

    @field_validator("method", mode="before")
    @classmethod
    def _method_by_name(cls, v):
        return method_config(v, default=DEFAULT_METHOD)

    @field_validator("input", "output")
    @classmethod
    def _root(cls, v: str) -> str:
        from agiqa.storage.uri import is_s3, split_s3

        if not v.strip():
            raise ValueError("is empty")
        if is_s3(v):
            split_s3(v)  # raises on s3:// without a bucket
        return v

    @field_validator("aspects")
    @classmethod
    def _aspects(cls, v: list[str]) -> list[str]:
        return list(check_aspects(v))

    @field_validator("resources")
    @classmethod
    def _stages(cls, v: dict) -> dict:
        unknown = sorted(set(v) - set(SCORE_STAGES))
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; a score job has {list(SCORE_STAGES)}")
        return v

    @model_validator(mode="after")
    def _method_scores_aspects(self) -> ScoreJobConfig:
        missing = [a for a in self.aspects if a not in self.method.supported_aspects]
        if missing:
            raise ValueError(f"method {self.method.name!r} cannot score {missing}; it scores "
                             f"{list(self.method.supported_aspects)}")
        return self

    @model_validator(mode="after")
    def _prefilter_fits(self) -> ScoreJobConfig:
        if self.prefilter is None:
            if "prefilter" in self.resources:
                raise ValueError("resources.prefilter has no effect without a prefilter")
            return self
        p = self.prefilter
        missing = [a for a in p.scored_aspects if a not in p.method.supported_aspects]
        if missing:
            raise ValueError(f"prefilter method {p.method.name!r} cannot score {missing}")
        return self

    @model_validator(mode="after")
    def _nothing_ignored(self) -> ScoreJobConfig:
        if self.runner.kind == "local":
            ignored = (["runner.address"] if self.runner.address else []) + [
                f"resources.{k}.num_actors" for k, r in self.resources.items() if r.num_actors is not None]
            if ignored:
                raise ValueError(f"{', '.join(ignored)} has no effect with runner.kind 'local' (one process); "
                                 "drop it or use the ray runner")
        return self

    def stage_resources(self, stage: str) -> dict:
        """The overrides given for `stage` (unset fields left out)."""
        r = self.resources.get(stage)
        return {} if r is None else r.model_dump(exclude_none=True)


def load_score_config(path: str | Path | None, overrides: dict | None = None) -> ScoreJobConfig:
    """Load a YAML config, apply flag overrides (nested dicts merge), then validate once."""
    return ScoreJobConfig.model_validate(deep_merge(read_yaml(path), overrides or {}))
