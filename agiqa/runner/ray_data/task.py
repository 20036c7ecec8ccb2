"""`ShardTask`: the `map_batches` callable class of the Ray Data backend. Each input row is one shard;
each output row is that shard's `ShardReport` (or why its attempt failed).

The actor sets the stage up once (as `runner.ray.actor.StageActor` does) and streams the shards it is
handed through one `ShardStreamer`: the same temp files, atomic commits and manifest written last as
on every runner, so a shard is committed exactly once whatever Ray Data retries or re-runs. A stage
that raises on a shard is caught here and returned as a row (`error`), never raised: a raise would
fail the whole Ray Data execution, while the failure policy (`runner.policy`) is the driver's.
Several calls can run at once on one actor (`max_concurrent_calls_per_actor`): the streamer chains
their shards, so the next one reads and prepares while the current one runs.
"""

from __future__ import annotations

import json
import logging

log = logging.getLogger(__name__)

#: Columns of a task's input rows (one shard each) and of its output rows (one report each).
IN_COLUMNS = ("shard", "side")
OUT_COLUMNS = ("shard", "report", "error")


def shard_row(shard, side) -> dict:
    """The dataset row for one shard: its `ShardInfo` and its side shard's, as JSON (plain string columns,
    so every block has the same schema)."""
    return {"shard": json.dumps(shard.to_dict()), "side": json.dumps(side.to_dict()) if side else ""}


class ShardTask:
    def __init__(self, job, p, identity: dict, ident_hash: str):
        """`p`: the pass, its stage already built on the driver (`Pass.resolved`)."""
        from agiqa.runner.shard import ShardIO
        from agiqa.runner.stream import ShardStreamer, prepare_workers

        side_store = job.open_store(p.side_input, job.storage) if p.side_input else None
        self.io = ShardIO(p.stage, p.output, job.open_store(p.input, job.storage),
                          job.open_store(p.output, job.storage), side_store, job.read_batch_rows, identity, ident_hash,
                          max_batches_in_flight=job.max_batches_in_flight,
                          prepare_workers=prepare_workers(p.stage.resources, job.prepare_workers))
        self.streamer = ShardStreamer(self.io)
        self.streamer.call(p.stage.setup)  # on the engine's compute thread, where a sync stage's model work runs
        self._closed = False

    def __call__(self, batch):
        """A pyarrow batch of `shard_row`s -> one row per shard: its relative name, its report as JSON,
        and `error` (empty, or why this attempt failed: the driver charges it)."""
        import pyarrow as pa

        from agiqa.runner.policy import one_line
        from agiqa.storage.base import ShardInfo

        shards = [ShardInfo(**json.loads(s)) for s in batch.column("shard").to_pylist()]
        sides = [ShardInfo(**json.loads(s)) if s else None for s in batch.column("side").to_pylist()]
        futures = [self.streamer.submit(s, side) for s, side in zip(shards, sides, strict=True)]
        reports, errors = [], []
        for shard, future in zip(shards, futures, strict=True):
            try:
                reports.append(json.dumps(future.result().to_dict()))
                errors.append("")
            except Exception as e:  # the stage broke on this shard: one attempt, the driver decides
                log.debug("shard %s failed", shard.rel, exc_info=True)
                reports.append("")
                errors.append(one_line(e) or type(e).__name__)
        return pa.table({"shard": [s.rel for s in shards], "report": reports, "error": errors})

    def __del__(self):
        """Ray Data drops the UDF when the pool shuts down gracefully: free the stage's resources then (an
        actor that crashed or was killed frees them with its process)."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        try:
            self.streamer.call(self.io.stage.teardown)
        finally:
            self.streamer.close()
