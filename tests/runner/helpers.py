"""Score jobs with FakeMethod (no model): the runner's rules tested in seconds."""

from __future__ import annotations

import io

import pyarrow.parquet as pq

import agiqa.testing.fakes  # noqa: F401  (registers method "fake")


def fake_config(input, output, runner: str = "local", read_batch_rows: int = 4, **method):
    from agiqa.config import ScoreJobConfig

    return ScoreJobConfig(input=str(input), output=str(output), method={"name": "fake", **method},
                          runner={"kind": runner, "max_shard_attempts": 3}, progress=False,
                          read_batch_rows=read_batch_rows)


def expected_scores(shard_path, aspect: str) -> list[float]:
    """What FakeMethod must give for every row of an input shard, computed from the input alone."""
    from PIL import Image

    from agiqa.testing.fakes import fake_score

    t = pq.read_table(shard_path)
    return [fake_score(Image.open(io.BytesIO(b)).convert("RGB"), p, aspect)
            for b, p in zip(t.column("image").to_pylist(), t.column("prompt").to_pylist(), strict=True)]
