"""`agiqa audit`'s configuration: which scored outputs, grouped how, compared with what, written where."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from agiqa.config.base import deep_merge, read_yaml
from agiqa.config.runner import RunnerConfig
from agiqa.schema import StrictModel
from agiqa.storage.config import StorageConfig


class AuditRunnerConfig(RunnerConfig):
    """The runner settings, local by default: an audit reads a few columns, a process suffices."""

    kind: Literal["ray", "local"] = Field("local", description="'local' (default: this process) or 'ray' (actors).")


class AuditJobConfig(StrictModel):
    input: str = Field(..., description="Scored shards (a score job's output): folder or s3://bucket/prefix.")
    output: str = Field(..., description="Report folder: report.html, figures/*.png, audit.json, groups.csv.")
    group_by: list[str] = Field(default_factory=list, description="Columns to group rows by (none: one group).")
    aspects: list[str] | None = Field(None, description="Aspects to report (default: every <aspect>_score column).")
    compare: str | None = Field(None, description="Another scored output root to compare with (the baseline).")
    images: str | None = Field(None, description="The original shards, for thumbnails when the scored rows hold "
                                                 "no image (same relative names as the scored shards).")
    id_column: str = "id"
    prompt_column: str = "prompt"
    image_column: str = "image"
    status_column: str = "status"
    examples: int = Field(4, ge=0, le=50, description="Worst and best rows shown per group and aspect.")
    max_groups: int = Field(1000, ge=1, description="More distinct groups than this is refused.")
    title: str = Field("agiqa audit", description="The report's title.")
    storage: StorageConfig = Field(default_factory=StorageConfig)
    progress: bool = Field(True, description="Log progress while shards are read.")
    runner: AuditRunnerConfig = Field(default_factory=AuditRunnerConfig,
                                      description="Where the per-shard statistics run (`--runner`, `--address`).")


def load_audit_config(path: str | Path | None, overrides: dict | None = None) -> AuditJobConfig:
    return AuditJobConfig.model_validate(deep_merge(read_yaml(path), overrides or {}))
