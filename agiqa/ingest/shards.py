"""What a format's planner hands the ingest job: output shards, each with its identity and its rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from agiqa.errors import DataError
from agiqa.ingest.report import Skip


@dataclass
class OutputShard:
    """One output shard: its relative name, what it is made of, and how to produce its rows."""

    rel: str
    identity: dict  # JSON-able; changes whenever the shard's content would
    schema: object  # pa.Schema of the rows (id, image, prompt, then the extras)
    rows: Callable[[], Iterator[dict | Skip]]  # rows to write, or Skips to report, in order


@dataclass
class IngestPlan:
    format: str
    shards: list[OutputShard]
    skipped: list[Skip] = field(default_factory=list)  # found while planning (rows without images, ...)


def no_input(cfg, what: str) -> DataError:
    return DataError(f"no {what} under {cfg.input}")
