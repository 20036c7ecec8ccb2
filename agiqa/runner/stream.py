"""ShardStreamer: shards through one stage with batches in flight, outputs in input order, exactly once.

Per process that runs a stage (a Ray actor, or the local runner) there is one streamer:
- one **engine loop** (`EngineLoop`): the thread that runs `stage.process` (sync, or a coroutine);
- a **prepare pool** of `prepare_workers` threads running `stage.prepare` (decode, preprocess: PIL,
  numpy and pyarrow release the GIL), shared by every shard of the process;
- one **reader** thread (opening shards, reading batches: a Parquet reader is sequential) and one
  **writer** thread (Parquet encoding and compression stay off the engine thread);
- **K slots** (`max_batches_in_flight`): batches submitted to the stage and not yet finished. A
  coroutine stage can have K batches running at once; they may finish in any order.

A shard's batches are read in order, prepared on the pool, submitted in order, and written in
input order as they finish (a finished batch waits for those before it), so the files are the
same bytes whatever K is. The shard protocol does not change (`runner.shard`: temp files, atomic
commits, manifest last). Shards follow each other without draining the engine: the next shard
(queued by the driver) reads and prepares while the current one runs, and its batches take slots
as soon as the current shard has submitted its last; commits stay in submission order, so the
oldest uncommitted shard of an actor is still the one that was running when it died.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from agiqa.runner.engine_loop import EngineLoop, resolved
from agiqa.runner.shard import OpenedShard, ShardIO, ShardReport, ShardWriter, open_shard, refused
from agiqa.storage.base import ShardInfo

log = logging.getLogger(__name__)


def prepare_workers(resources, configured: int | None = None) -> int:
    """Prepare threads for a stage: `configured`, else the actor's whole CPUs (at least 1).

    Decoding is the CPU floor of scoring, so the pool gets every CPU the actor reserved; the method's
    own torch threads on CPU default to 1 beside it (CLIP's `cpu_threads`), and on a GPU the engine
    thread mostly waits on the device."""
    if configured is not None:
        return max(1, int(configured))
    return max(1, int(math.floor(getattr(resources, "num_cpus", 1.0) or 1.0)))


def run_shard(shard: ShardInfo, io: ShardIO, side: ShardInfo | None = None) -> ShardReport:
    """One shard through a streamer of its own, waited for here (tests, tools). The stage is used as it
    is (set up by the caller). Exceptions from the stage propagate."""
    with ShardStreamer(io) as streamer:
        return streamer.submit(shard, side).result()


class ShardStreamer:
    def __init__(self, io: ShardIO, engine: EngineLoop | None = None):
        self.io = io
        self.stage = io.stage
        self.engine = engine or EngineLoop()
        self._own_engine = engine is None
        self.workers = max(1, int(io.prepare_workers))
        self.k = max(1, int(io.max_batches_in_flight))
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="agiqa-prepare")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="agiqa-read")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="agiqa-write")
        self._slots: asyncio.Semaphore | None = None  # created on the loop
        self._submitted: asyncio.Event | None = None  # the previous shard has submitted its last batch
        self._finished: asyncio.Event | None = None  # the previous shard has committed (or given up)
        self.prefetched_used = 0  # shards whose first batch was prepared before their turn

    # -- called from any thread -------------------------------------------------------------------
    def call(self, fn: Callable, *args):
        """Run `fn` on the engine thread and wait (the stage's setup and teardown)."""
        return self.engine.call(fn, *args)

    def submit(self, shard: ShardInfo, side: ShardInfo | None = None) -> Future:
        """Start a shard now (opening it on the reader thread at once); its `ShardReport` comes back in
        the future. Shards submitted from one thread are submitted to the stage and committed in that order."""
        opening = self._reader.submit(self._open, shard, side)
        return self.engine.submit(self._run(shard, opening))

    def close(self) -> None:
        for pool in (self._pool, self._reader, self._writer):
            pool.shutdown(wait=True, cancel_futures=True)
        if self._own_engine:
            self.engine.close()

    def __enter__(self) -> ShardStreamer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- on the engine loop -----------------------------------------------------------------------
    def _open(self, shard: ShardInfo, side: ShardInfo | None) -> OpenedShard | None:
        if refused(shard, None) is not None:
            return None
        return open_shard(shard, self.io, side)

    async def _run(self, shard: ShardInfo, opening: Future) -> ShardReport:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.k)
        # Chained to the shard submitted before this one (the first step of this coroutine runs in
        # submission order, so the chain is the driver's order).
        prev_submitted, prev_finished = self._submitted, self._finished
        submitted, finished = asyncio.Event(), asyncio.Event()
        self._submitted, self._finished = submitted, finished
        try:
            return await self._stream(shard, opening, prev_submitted, prev_finished, submitted)
        finally:
            submitted.set()
            finished.set()

    async def _stream(self, shard: ShardInfo, opening: Future, prev_submitted, prev_finished,
                      submitted: asyncio.Event) -> ShardReport:
        t0 = time.perf_counter()
        loop = asyncio.get_running_loop()
        opened = await asyncio.wrap_future(opening)
        if (report := refused(shard, opened)) is not None:
            if opened is not None:
                opened.close()
            return report
        stage, slots = self.stage, self._slots
        writer = ShardWriter(shard, self.io, opened)
        # Batches read and not yet written: bounds what is buffered (prepared, in flight, finished early).
        window = asyncio.Semaphore(2 * (self.k + self.workers))
        prepared_q: asyncio.Queue = asyncio.Queue()
        running_q: asyncio.Queue = asyncio.Queue()
        in_flight: set[asyncio.Task] = set()

        async def feed() -> None:  # read in order, prepare on the pool
            while True:
                await window.acquire()
                item = await loop.run_in_executor(self._reader, opened.read)
                if item is None:
                    window.release()
                    break
                batch, side = item
                await prepared_q.put((batch, loop.run_in_executor(self._pool, stage.prepare, batch, side, shard)))
            await prepared_q.put(None)

        async def process(prepared):
            return await resolved(stage.process(prepared))

        def finished_one(task: asyncio.Task) -> None:  # also when cancelled before it ran
            in_flight.discard(task)
            slots.release()

        async def submit() -> None:  # in order, each batch as soon as it is prepared and a slot is free
            first = True
            while (item := await prepared_q.get()) is not None:
                batch, preparing = item
                if first:
                    if prev_submitted is not None and not prev_submitted.is_set():
                        await prev_submitted.wait()
                        if preparing.done():
                            self.prefetched_used += 1  # ready before its turn: the engine did not wait
                    first = False
                prepared = await preparing  # a prepare that raised fails this shard's attempt only
                await slots.acquire()
                task = loop.create_task(process(prepared))
                in_flight.add(task)
                task.add_done_callback(finished_one)
                await running_q.put((batch, task))
            submitted.set()
            await running_q.put(None)

        async def write() -> None:  # in input order, whatever order the batches finish in
            while (item := await running_q.get()) is not None:
                batch, task = item
                result = await task
                await loop.run_in_executor(self._writer, writer.write, batch, result)
                window.release()

        steps = [loop.create_task(step()) for step in (feed, submit, write)]
        try:
            await asyncio.gather(*steps)
            if prev_finished is not None:
                await prev_finished.wait()  # commits in submission order
            return await loop.run_in_executor(self._writer, writer.commit, time.perf_counter() - t0)
        except BaseException:
            for t in (*steps, *in_flight):
                t.cancel()
            await asyncio.gather(*steps, *in_flight, return_exceptions=True)
            raise
        finally:
            await loop.run_in_executor(self._writer, _close, writer, opened)


def _close(writer: ShardWriter, opened: OpenedShard) -> None:
    writer.discard()
    opened.close()
