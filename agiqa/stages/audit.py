"""The map half of an audit: one shard's statistics as a partial stage (`runner.stage.PartialStage`).

Per scored shard it computes what `agiqa.audit.collect` accumulates (counts, moments, min/max, the
quantile sketch, status and error counts, rating words, per-source splits, the best and worst rows,
the prompts' correspondence sums), in batches of the same size the driver-side audit read, folded in
input order, and writes it as one small table (`agiqa.audit.partial`). As a runner pass it is spread
over actors or run in process, retried and resumed; the reduce merges the tables in shard order, so
the report equals the one-process audit's.
"""

from __future__ import annotations

from dataclasses import asdict

import pyarrow as pa

from agiqa.audit.collect import AuditSpec, Collected, batch_stats
from agiqa.audit.partial import LAYOUT_VERSION, to_table
from agiqa.resources import Resources


class _ShardState:
    """A shard's running statistics, or only the fact that it had too many groups (then nothing more
    is kept: the reduce refuses the audit in one line, as the driver-side audit did)."""

    def __init__(self):
        self.collected, self.overflowed = Collected(shards=1), False


class AuditStage:
    name = "audit"

    def __init__(self, spec: AuditSpec, read_columns: list[str], resources: Resources | None = None):
        self.spec = spec
        self.read_columns = tuple(read_columns)
        # every shard must hold what the first one did: a column missing in one shard fails that
        # shard in one line (and the merge names it), rather than silently auditing it differently
        self.required_columns = self.read_columns
        self.read_batch_rows = spec.batch_rows
        self.resources = resources or Resources(num_cpus=1.0)

    def identity(self) -> dict:
        return {"kind": "audit", "layout": LAYOUT_VERSION, "spec": asdict(self.spec), "columns": list(self.read_columns)}

    def settings_of(self, identity: dict) -> dict:
        """Nothing to protect: other settings (another group-by) only redo the partials."""
        return {}

    def setup(self) -> None: ...

    def teardown(self) -> None: ...

    def prepare(self, batch: pa.RecordBatch, side, shard) -> Collected:
        return batch_stats(pa.Table.from_batches([batch]), self.spec, shard.rel if shard is not None else "")

    def process(self, prepared):
        return prepared

    def fold(self, state: _ShardState | None, part: Collected) -> _ShardState:
        state = state or _ShardState()
        if state.overflowed:
            return state
        if len(state.collected.groups.keys() | part.groups.keys()) > self.spec.max_groups:
            state.overflowed, state.collected = True, Collected(shards=1)
            return state
        state.collected.merge(part, self.spec)
        return state

    def finish(self, state: _ShardState | None) -> pa.Table:
        state = state or _ShardState()
        return to_table(state.collected, state.overflowed)
