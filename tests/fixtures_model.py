"""Job configs and the real M3 processor on the tiny model, shared by storage and Ray tests."""

from __future__ import annotations

import pytest


def job_config(tiny_model_dir, input: str, output: str, **extra):
    from agiqa.config import JobConfig

    engine = {"model": str(tiny_model_dir), "max_new_tokens": 6, "batch_size": 8, **extra.pop("engine", {})}
    return JobConfig(input=input, output=output, engine=engine, progress=False,
                     read_batch_rows=extra.pop("read_batch_rows", 8), **extra)


@pytest.fixture(scope="session")
def m3_processor(tiny_model_dir):
    """Built once: the engine start-up is the expensive part."""
    from agiqa.pipeline.factory import build_processor

    return build_processor(job_config(tiny_model_dir, "-", "-"))


@pytest.fixture(scope="session")
def demo_shards(tmp_path_factory):
    """Three small procedural shards (16 rows each, 2 row groups per shard)."""
    from agiqa.training.learnability import write_shards

    d = tmp_path_factory.mktemp("demo-data")
    write_shards(str(d), rows=24, shards=3, seed=1, size=64)
    return d
