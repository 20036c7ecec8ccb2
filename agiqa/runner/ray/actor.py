"""The stage actor: the stage set up once, shards streamed through it (`runner.stream.ShardStreamer`).

The driver keeps `shards_in_flight_per_actor` shards queued on each actor. The actor is threaded
(`max_concurrency`), so a queued `run` call starts on arrival: its shard is opened, read and
prepared while the shard before it still runs, and its batches take the engine's slots as soon as
that shard has submitted its last: the engine stays fed across shard boundaries.
"""

from __future__ import annotations

import os
import threading


class CallOrder:
    """Lets numbered calls through in number order, whatever order their threads start in.

    A threaded Ray actor starts its queued calls on several threads with no ordering guarantee,
    so two `run` calls can reach the engine queue in either order. The driver numbers its calls
    per actor (0, 1, 2, ...) and counts on them running in that order: when an actor dies, the
    oldest uncommitted shard is the one that was running and is charged an attempt.
    """

    def __init__(self) -> None:
        self._next = 0
        self._cond = threading.Condition()

    def run_in_turn(self, seq: int, fn, *args):
        """Wait until every call numbered below `seq` has passed, then call `fn(*args)` and pass."""
        with self._cond:
            self._cond.wait_for(lambda: self._next == seq)
            try:
                return fn(*args)
            finally:
                self._next += 1
                self._cond.notify_all()


class StageActor:
    def __init__(self, job, p, identity: dict, ident_hash: str):
        """`p`: the pass this actor's pool runs, its stage already built (`Pass.resolved`)."""
        from agiqa.runner.shard import ShardIO
        from agiqa.runner.stream import ShardStreamer, prepare_workers

        side_store = job.open_store(p.side_input, job.storage) if p.side_input else None
        self.rows_done = 0  # rows of written batches, polled by the driver for progress
        self.shards_opened, self.rows_opened = 0, 0  # shards opened and their rows (the driver's ETA)
        self.io = ShardIO(p.stage, p.output, job.open_store(p.input, job.storage),
                          job.open_store(p.output, job.storage), side_store, p.read_batch_rows or job.read_batch_rows,
                          identity, ident_hash,
                          on_rows=self._count, on_open=self._opened, max_batches_in_flight=job.max_batches_in_flight,
                          prepare_workers=prepare_workers(p.stage.resources, job.prepare_workers))
        self.streamer = ShardStreamer(self.io)
        self.streamer.call(p.stage.setup)  # on the engine's compute thread, where a sync stage's torch work runs
        self._order = CallOrder()

    def ready(self) -> str:
        import socket

        return f"{socket.gethostname()}:{os.getpid()}"

    def run(self, shard_dict: dict, side_dict: dict | None, seq: int) -> dict:
        """Runs on arrival (threaded actor): the shard starts streaming at once, behind the shards before
        it. `seq` is the driver's number for this call on this actor: shards are submitted to the stage
        and committed in that order."""
        from agiqa.storage.base import ShardInfo

        shard = ShardInfo(**shard_dict)
        side = ShardInfo(**side_dict) if side_dict else None
        return self._order.run_in_turn(seq, self.streamer.submit, shard, side).result().to_dict()

    def _count(self, n: int) -> None:
        self.rows_done += n

    def _opened(self, rows: int) -> None:
        self.shards_opened += 1
        self.rows_opened += rows

    def stats(self) -> dict:
        return {"prefetched_used": self.streamer.prefetched_used, "rows_done": self.rows_done,
                "shards_opened": self.shards_opened, "rows_opened": self.rows_opened}

    def teardown(self) -> None:
        """Free the stage's resources (engine, GPU memory) before the actor is killed."""
        self.streamer.call(self.io.stage.teardown)
        self.streamer.close()
