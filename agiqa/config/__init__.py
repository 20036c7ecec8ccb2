"""Validated configuration trees, one per job kind (pydantic; unknown keys are refused).

    base.py        YAML loading and flag overrides
    (columns and image/prompt limits live in agiqa.data.config; storage settings in agiqa.storage.config)
    runner.py      where and how shards run: runner kind, attempts, per-stage resources
    score_job.py   `agiqa score`: input, output, aspects, the method (chosen by name), ...
    legacy.py      today's older spellings (`engine:`, `ray:`) translated, with the new spelling named

Every field is documented once, where it is defined. The CLI, `jobs/score.py` and `agiqa.api`
build these and hand them down, so a bad value is refused before any work starts.
"""

from agiqa.config.runner import ResourcesConfig, RunnerConfig
from agiqa.config.score_job import ScoreJobConfig, load_score_config
from agiqa.data.config import ColumnsConfig, ImageLimits
from agiqa.storage.config import StorageConfig

#: Older names, kept for code written against them.
JobConfig = ScoreJobConfig
load_config = load_score_config

__all__ = ["ColumnsConfig", "ImageLimits", "JobConfig", "ResourcesConfig", "RunnerConfig", "ScoreJobConfig",
           "StorageConfig", "load_config", "load_score_config"]
