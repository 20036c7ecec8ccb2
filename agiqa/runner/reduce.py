"""Reduce steps: what a `Reduce` sees (`ReduceContext`) and how its result is kept.

A reduce reads committed shards on the driver, a few columns at a time, and returns a small dict
(a threshold, a cutoff, counts). Memory stays bounded because it gets batches, never whole tables:
the reduce function keeps only its own running state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from agiqa.runner.barrier import wait_for_ranks
from agiqa.runner.job import Reduce, ShardJob
from agiqa.storage.parquet import read_table  # not pq.read_table: see the module

log = logging.getLogger(__name__)

REDUCE_DIR = "reduce"  # in the output's state root


@dataclass
class ReduceContext:
    job: ShardJob
    #: Results of the reduce steps before this one, by name.
    results: dict[str, dict] = field(default_factory=dict)
    batch_rows: int = 65536

    def store(self, root: str):
        return self.job.open_store(root, self.job.storage)

    def shard_names(self, root: str) -> list[str]:
        """Relative names of the `*.parquet` shards under `root`, sorted (an agiqa 0.1 `_agiqa/` left out,
        and names the passes refuse: a reduce sees the shards a pass runs)."""
        from agiqa.storage.layout import data_shards
        from agiqa.storage.names import unsafe_name

        return sorted(s.rel for s in data_shards(self.store(root), root) if not unsafe_name(s.rel))

    def scan(self, root: str, columns: list[str], shards: list[str] | None = None) -> Iterator:
        """`pyarrow.Table` batches holding only `columns`, over every shard under `root` (or `shards`),
        in shard-name order: one pass over the data per call."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from agiqa.errors import DataError
        from agiqa.storage.names import shown
        from agiqa.storage.uri import join

        store = self.store(root)
        for rel in self.shard_names(root) if shards is None else shards:
            with store.open_read(join(root, rel)) as f:
                pf = pq.ParquetFile(f)
                missing = [c for c in columns if c not in pf.schema_arrow.names]
                if missing:
                    raise DataError(f"shard {shown(rel)} under {root} has no column(s) {', '.join(missing)}")
                for batch in pf.iter_batches(batch_size=self.batch_rows, columns=columns):
                    yield pa.Table.from_batches([batch])


    def partials(self, input_root: str, partials_root: str, identity: dict) -> Iterator:
        """The partial table (`runner.stage.PartialStage`) of every shard under `input_root` that a
        pass runs (those planning refuses are reported by the pass over the rows), in name order;
        see `committed_partials`."""
        from agiqa.runner.plan import refusal
        from agiqa.storage.layout import data_shards

        listed = sorted((s for s in data_shards(self.store(input_root), input_root) if not refusal(s)),
                        key=lambda s: s.rel)
        for _, table in committed_partials(self.store(partials_root), input_root, partials_root, listed, identity):
            yield table


def committed_partials(store, root: str, where: str, shards: list, identity: dict, what: str = "") -> Iterator:
    """(shard, partial table) for each of `shards` (listed under `root`), in order, as committed under
    `where` for `identity` and the shard as listed now. A shard without one (its pass failed on it) is a
    DataError naming it: a result merged from the other shards only would be wrong, not approximate."""

    from agiqa.errors import DataError
    from agiqa.runner.manifest import identity_hash, is_committed, read_manifest
    from agiqa.storage.names import shown
    from agiqa.storage.uri import join

    want = identity_hash(identity)
    kind = f"{what} " if what else ""

    def read(shard):
        if not is_committed(read_manifest(store, where, shard), want, shard, None):
            raise DataError(f"shard {shown(shard.rel)} under {root} has no committed {kind}partial (its pass failed "
                            "on it; see the job summary): the result would be wrong")
        with store.open_read(join(where, shard.rel)) as f:
            return shard, read_table(f)

    yield from bounded_map(read, shards)


def bounded_map(fn, items: list, workers: int = 16, window: int = 64) -> Iterator:
    """`fn` over `items` on a thread pool, results in order, at most `window` of them held at once
    (object-store round trips overlap; 10^5 results never pile up in memory)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agiqa-partials") as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def run_reduce(job: ShardJob, step: Reduce, results: dict[str, dict], summary) -> dict:
    """Run one reduce step; record its result in `results`, the summary and the state root's `reduce/`."""
    from agiqa.storage.layout import state_uri

    t0 = time.perf_counter()
    result = step.fn(ReduceContext(job, dict(results)))
    results[step.name] = result
    if not step.internal:
        summary.reduced[step.name] = result
    log.log(logging.DEBUG if step.internal else logging.INFO, "reduce %s: %s (%.1f s)", step.name, result,
            time.perf_counter() - t0)
    from agiqa.storage.base import StorageError

    try:
        job.open_store(job.output, job.storage).write_json(state_uri(job.output, f"{REDUCE_DIR}/{step.name}.json"),
                                                          result)
    except StorageError as e:  # the result is in the summary too; a store down must not lose the job's end
        log.warning("reduce %s: its result could not be written beside the output: %s", step.name, e)
    return result


def passes_of(job: ShardJob, summary) -> Iterator:
    """The job's passes in order, each resolved (its stage built) after the reduce steps before it ran
    (a pass its factory finds unneeded is left out).
    Every runner walks a job through this, so reduce steps mean the same on all of them."""
    results: dict[str, dict] = {}
    for step in job.passes:
        if isinstance(step, Reduce):
            wait_for_ranks(job, step, results)  # many drivers: every rank's shards first (`runner.barrier`)
            run_reduce(job, step, results, summary)
        elif (resolved := step.resolved(results)) is not None:
            yield resolved
