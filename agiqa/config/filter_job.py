"""`agiqa filter`'s configuration: which scored shards, which rules, where the keep/drop sets go."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from agiqa.config.base import deep_merge, read_yaml
from agiqa.config.runner import ResourcesConfig, RunnerConfig
from agiqa.config.score_job import ScoreJobConfig
from agiqa.schema import StrictModel
from agiqa.storage.config import StorageConfig


class FilterJobConfig(StrictModel):
    input: str | None = Field(None, description="Scored shards (a score job's output); default: score.output.")
    output: str = Field(..., description="Output root: keep/, drop/, rows/ (with write_rows); stats.json goes beside it, in OUTPUT.agiqa/.")
    images: str | None = Field(None, description="The original shards (the ones scored), read for write_rows when "
                                                 "the scored rows hold no image; default: score.input.")
    rules: list[str] = Field(default_factory=list, description=(
        "Rules, ANDed in order: 'quality_score >= 3' (column, comparison, number) or "
        "'top_fraction quality_score=0.2' (the best 20% of the whole dataset)."))
    sources: dict[str, str] = Field(default_factory=dict, description=(
        "Column -> the one method whose rows are judged on it, for a cascade's column that mixes two methods' "
        "scores (`<aspect>_score_source`): {quality_score: m3-agiqa}. Rows from other sources are dropped with "
        "the reason '<column>_source != <source>'; a rule on a mixed column without one is refused."))
    write_rows: bool = Field(False, description="Also write the kept rows with their images to rows/.")
    score: ScoreJobConfig | None = Field(None, description=(
        "Score on the way: a score job run first (its output is this filter's input, its input the images)."))
    id_column: str = Field("id", description="Row id column (tie-breaking for top fractions, side-input check).")
    status_column: str = Field("status", description="Scoring status column (rows with 'error' are dropped).")
    image_column: str = Field("image", description="Encoded image bytes column (in the scored rows or the images).")
    cutoff_rows_in_memory: int = Field(1_000_000, ge=1, description="Rows a top-fraction reduce holds at once.")
    storage: StorageConfig = Field(default_factory=StorageConfig)
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
    resources: dict[str, ResourcesConfig] = Field(default_factory=dict, description="Per stage ('filter').")
    overwrite: bool = Field(False, description="Redo shards that are already committed.")
    read_batch_rows: int = Field(4096, ge=1, description="Rows read from a shard at a time (bounded memory).")
    progress: bool = Field(True, description="Show a progress bar on a terminal.")

    @field_validator("rules")
    @classmethod
    def _rules_parse(cls, v: list[str]) -> list[str]:
        from agiqa.filtering.rules import parse_rules

        return [r.text for r in parse_rules(v)]

    @field_validator("resources")
    @classmethod
    def _stages(cls, v: dict) -> dict:
        if unknown := sorted(set(v) - {"filter"}):
            raise ValueError(f"unknown stage(s) {unknown}; a filter job has ['filter']")
        return v

    @model_validator(mode="before")
    @classmethod
    def _roots_from_score(cls, data):
        """With a `score:` job, the input defaults to its output and the images to its input."""
        if isinstance(data, dict) and data.get("score") is not None:
            sc = data["score"]
            get = sc.get if isinstance(sc, dict) else lambda k: getattr(sc, k, None)
            data = {**data, "input": data.get("input") or get("output"), "images": data.get("images") or get("input")}
        return data

    @model_validator(mode="after")
    def _complete(self) -> FilterJobConfig:
        if self.score is not None and self.input != self.score.output:
            raise ValueError(f"input {self.input} is not the score job's output {self.score.output}")
        if self.input is None:
            raise ValueError("input: the scored shards are needed (or a `score:` job to make them)")
        if not self.rules:
            raise ValueError("rules: give at least one rule (--keep or --top-fraction)")
        return self


def load_filter_config(path: str | Path | None, overrides: dict | None = None) -> FilterJobConfig:
    """Load a YAML config, apply flag overrides (nested dicts merge), then validate once."""
    return FilterJobConfig.model_validate(deep_merge(read_yaml(path), overrides or {}))
