"""The stage actor: the stage set up once, shards run one after another.

The driver keeps `shards_in_flight_per_actor` shards queued on each actor. The actor is threaded
(`max_concurrency`), so a queued `run` call starts on arrival: it opens its shard and reads and
prepares the first batch on an I/O thread while the engine thread still works on the shard before
it; the engine thread then runs shards one at a time, and a shard's first batch is usually ready
when its turn comes: the engine stays fed across shard boundaries.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor


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

        # All torch work (setup included) on one dedicated thread: torch's OpenMP pool belongs to
        # the calling thread, and an idle pool of another thread spins and steals the cores
        # (measured: throughput halves once two threads have run torch ops).
        self._engine = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agiqa-engine")
        self._engine.submit(p.stage.setup).result()
        side_store = job.open_store(p.side_input, job.storage) if p.side_input else None
        self.rows_done = 0  # rows of finished batches, polled by the driver for progress
        self.io = ShardIO(p.stage, p.output, job.open_store(p.input, job.storage),
                          job.open_store(p.output, job.storage), side_store, job.read_batch_rows, identity, ident_hash,
                          on_rows=self._count)
        self.prefetched_used = 0
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agiqa-next-shard")
        self._order = CallOrder()

    def ready(self) -> str:
        import socket

        return f"{socket.gethostname()}:{os.getpid()}"

    def run(self, shard_dict: dict, side_dict: dict | None, seq: int) -> dict:
        """Runs on arrival (threaded actor): opening the shard starts at once on the I/O thread,
        while the engine thread may still be busy with the shard before it. `seq` is the driver's
        number for this call on this actor: shards are opened and run in that order."""
        from agiqa.runner.shard import open_shard
        from agiqa.storage.base import ShardInfo

        shard = ShardInfo(**shard_dict)
        side = ShardInfo(**side_dict) if side_dict else None

        def enqueue() -> Future:
            opening = self._io.submit(open_shard, shard, self.io, side)
            return self._engine.submit(self._run, shard, side, opening)

        return self._order.run_in_turn(seq, enqueue).result()

    def _run(self, shard, side, opening: Future) -> dict:
        from agiqa.runner.shard import run_shard

        if opening.done():
            self.prefetched_used += 1  # opened and first batch prepared before its turn
        try:
            opened = opening.result()
        except Exception:
            opened = None  # open it again in run_shard, which reports the reason
        return run_shard(shard, self.io, opened=opened, side=side).to_dict()

    def _count(self, n: int) -> None:
        self.rows_done += n

    def stats(self) -> dict:
        return {"prefetched_used": self.prefetched_used, "rows_done": self.rows_done}

    def teardown(self) -> None:
        """Free the stage's resources (engine, GPU memory) before the actor is killed."""
        self._engine.submit(self.io.stage.teardown).result()
