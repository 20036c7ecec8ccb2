"""What a format's planner hands the ingest job: output shards, each with its work list."""

from __future__ import annotations

from dataclasses import dataclass, field

from agiqa.errors import DataError
from agiqa.ingest.report import Skip


@dataclass
class OutputShard:
    """One output shard: its relative name and its work list (`agiqa.ingest.worklist`), one row per
    output row, in output order."""

    rel: str
    table: object  # pa.Table: the work list


@dataclass
class IngestPlan:
    format: str
    shards: list[OutputShard]
    skipped: list[Skip] = field(default_factory=list)  # found while planning (rows without images, ...)


def no_input(cfg, what: str) -> DataError:
    return DataError(f"no {what} under {cfg.input}")


#: Input files planned at once (tar headers, Parquet footers and columns: round trips on S3).
PLAN_THREADS = 16


def planned(fn, items: list) -> list:
    """`fn` over `items` on a few threads, results in input order (an exception: the first one's, raised)."""
    from concurrent.futures import ThreadPoolExecutor

    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(PLAN_THREADS, len(items)), thread_name_prefix="agiqa-ingest-plan") as pool:
        return list(pool.map(fn, items))
