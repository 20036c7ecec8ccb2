"""ShardStreamer: shards through one stage with batches in flight, outputs in input order, exactly once.

Per process that runs a stage (a Ray actor, or the local runner) there is one streamer:
- one **engine** (`EngineLoop`): a compute thread for a sync `stage.process`, an event loop for a
  coroutine one and for the streaming itself;
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
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from agiqa.runner.engine_loop import EngineLoop, offload
from agiqa.runner.shard import OpenedShard, ShardIO, ShardReport, ShardWriter, open_shard, refused, writer_for
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
        self._last: _Turn | None = None  # the shard submitted last: the next one follows it
        self.prefetched_used = 0  # shards whose first batch was prepared before the shard before them finished

    # -- called from any thread -------------------------------------------------------------------
    def call(self, fn: Callable, *args):
        """Run `fn` on the engine's compute thread and wait (the stage's setup and teardown)."""
        return self.engine.call(fn, *args)

    def submit(self, shard: ShardInfo, side: ShardInfo | None = None) -> Future:
        """Start a shard now: opened, read and prepared on the reader thread and the pool at once (even
        while a sync stage holds the engine thread); its `ShardReport` comes back in the future. Shards
        submitted from one thread are submitted to the stage and committed in that order."""
        # read and not yet written: K in flight, one preparing per worker, two finished or ready beside them
        feed = _Feed(self.engine.loop, self.k + self.workers + 2)
        self._reader.submit(self._feed, shard, side, feed)
        return self.engine.submit(self._run(shard, feed))

    def close(self) -> None:
        for pool in (self._pool, self._reader, self._writer):
            pool.shutdown(wait=True, cancel_futures=True)
        if self._own_engine:
            self.engine.close()

    def __enter__(self) -> ShardStreamer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- on the reader thread ----------------------------------------------------------------------
    def _feed(self, shard: ShardInfo, side: ShardInfo | None, feed: _Feed) -> None:
        """Open the shard, then read its batches in order, each handed to the prepare pool at once, up to
        the feed's window of batches not yet written. Runs off the engine loop, so preparing goes on
        while a sync stage holds the engine thread."""
        try:
            try:
                opened = None if refused(shard, None) is not None else open_shard(shard, self.io, side)
            except BaseException as e:
                feed.opened.set_exception(e)
                return
            feed.opened.set_result(opened)
            if opened is None or opened.error:
                return
            try:
                while feed.take_window():
                    item = opened.read()
                    if item is None:
                        feed.push(None)
                        return
                    batch, side_rows = item
                    feed.push((batch, self._pool.submit(self.stage.prepare, batch, side_rows, shard)))
            except BaseException as e:  # a broken read fails this shard's attempt
                feed.push(e)
        finally:
            feed.done.set_result(None)

    # -- on the engine loop -----------------------------------------------------------------------
    async def _run(self, shard: ShardInfo, feed: _Feed) -> ShardReport:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.k)
        # Chained to the shard submitted before this one (the first step of this coroutine runs in
        # submission order, so the chain is the driver's order).
        prev, turn = self._last, _Turn()
        self._last = turn
        try:
            return await self._stream(shard, feed, prev, turn)
        finally:
            feed.stop()
            turn.end()

    async def _stream(self, shard: ShardInfo, feed: _Feed, prev: _Turn | None, turn: _Turn) -> ShardReport:
        t0 = time.perf_counter()
        loop = asyncio.get_running_loop()
        opened = await asyncio.wrap_future(feed.opened)
        if (report := refused(shard, opened)) is not None:
            if opened is not None:
                opened.close()
            return report
        stage, slots = self.stage, self._slots
        writer = writer_for(shard, self.io, opened)
        running_q: asyncio.Queue = asyncio.Queue()
        in_flight: set[asyncio.Task] = set()

        async def process(prepared):
            return await offload(stage.process, prepared)  # sync: on the compute thread; coroutine: here

        def finished_one(task: asyncio.Task) -> None:  # also when cancelled before it ran
            in_flight.discard(task)
            slots.release()

        async def submit() -> None:  # in order, each batch as soon as it is prepared and a slot is free
            first = True
            while (item := await feed.items.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                batch, preparing = item
                if first:
                    if prev is not None:
                        steps.append(loop.create_task(self._count_prefetched(prev, preparing)))
                        await prev.submitted.wait()
                    first = False
                prepared = await asyncio.wrap_future(preparing)  # a prepare that raised fails this shard only
                await slots.acquire()
                task = loop.create_task(process(prepared))
                in_flight.add(task)
                task.add_done_callback(finished_one)
                await running_q.put((batch, task))
            turn.submitted.set()
            await running_q.put(None)

        async def write() -> None:  # in input order, whatever order the batches finish in
            while (item := await running_q.get()) is not None:
                batch, task = item
                result = await task
                await loop.run_in_executor(self._writer, writer.write, batch, result)
                feed.release_window()
            turn.processed.set()

        steps = [loop.create_task(step()) for step in (submit, write)]
        try:
            while not all(t.done() for t in steps):  # `steps` may grow (the prefetch count)
                await asyncio.gather(*steps)
            if prev is not None:
                await prev.finished.wait()  # commits in submission order
            return await loop.run_in_executor(self._writer, writer.commit, time.perf_counter() - t0)
        except BaseException:
            for t in (*steps, *in_flight):
                t.cancel()
            await asyncio.gather(*steps, *in_flight, return_exceptions=True)
            raise
        finally:
            feed.stop()
            await asyncio.wrap_future(feed.done)  # the reader is off this shard before it is closed
            await loop.run_in_executor(self._writer, _close, writer, opened)


    async def _count_prefetched(self, prev: _Turn, preparing) -> None:
        """Counts the shard when its first batch was prepared by the time the shard before it had finished
        processing: the engine did not wait on this shard's storage or decoding."""
        await prev.processed.wait()
        if preparing.done():
            self.prefetched_used += 1


class _Feed:
    """One shard's batches from the reader thread to the engine loop: `opened` (the shard, or why not),
    `items` ((batch, prepare future), an exception, or None at the end), and the window: batches read
    and not yet written, which bounds what is buffered (prepared, in flight, finished early)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, window: int):
        self.loop = loop
        self.opened: Future = Future()
        self.done: Future = Future()
        self.items: asyncio.Queue = asyncio.Queue()
        self._window = threading.Semaphore(window)
        self._stopped = threading.Event()

    def push(self, item) -> None:
        self.loop.call_soon_threadsafe(self.items.put_nowait, item)

    def take_window(self) -> bool:
        """Wait for room for one more batch; False once the shard is over (finished or failed)."""
        while not self._stopped.is_set():
            if self._window.acquire(timeout=0.05):
                return not self._stopped.is_set()
        return False

    def release_window(self) -> None:
        self._window.release()

    def stop(self) -> None:
        self._stopped.set()


class _Turn:
    """Where one shard stands, for the shard after it: submitted its last batch, processed it, committed."""

    def __init__(self):
        self.submitted, self.processed, self.finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    def end(self) -> None:  # also when the shard failed: the next one must not wait forever
        for e in (self.submitted, self.processed, self.finished):
            e.set()


def _close(writer: ShardWriter, opened: OpenedShard) -> None:
    writer.discard()
    opened.close()
