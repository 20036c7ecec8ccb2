"""The scorer actor: one per GPU, the engine built once, shards scored one after another.

The driver keeps `shards_in_flight_per_actor` shards queued on each actor. The actor is threaded
(`max_concurrency`), so a queued `score` call starts on arrival: it opens its shard and reads and
decodes the first batch on an I/O thread while the engine thread still works on the shard before
it; the engine thread then runs shards one at a time, and a shard's first batch is usually ready
when its turn comes: the engine stays fed across shard boundaries. Within a shard, `run_shard`
overlaps reading and decoding with the engine.

Test-only fault hooks (environment variables, forwarded by the driver):
- AGIQA_TEST_CRASH_AT_BATCH=N with AGIQA_TEST_CRASH_MARKER=PATH: the actor process exits hard
  (`os._exit`) at its N-th batch, once (the marker file records that it happened).
- AGIQA_TEST_CRASH_SHARD=NAME: the actor exits hard whenever it reaches that shard's first batch.
- AGIQA_TEST_CRASH_AFTER_COMMIT=NAME: the actor exits hard right after committing that shard,
  before its reply leaves (the reply is lost; the output is whole).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

TEST_ENV_PREFIX = "AGIQA_TEST_"


class CallOrder:
    """Lets numbered calls through in number order, whatever order their threads start in.

    A threaded Ray actor starts its queued calls on several threads with no ordering guarantee,
    so two `score` calls can reach the engine queue in either order. The driver numbers its calls
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


class ScorerActor:
    def __init__(self, cfg_dict: dict, factory: str | None = None):
        from agiqa.config import JobConfig
        from agiqa.storage import open_store

        self.cfg = JobConfig.model_validate(cfg_dict)
        # All torch work (engine build included) on one dedicated thread: torch's OpenMP pool
        # belongs to the calling thread, and an idle pool of another thread spins and steals the
        # cores (measured: throughput halves once two threads have run torch ops).
        self._engine = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agiqa-engine")
        self.processor = self._engine.submit(load_factory(factory), self.cfg).result()
        self.in_store = open_store(self.cfg.input, self.cfg.storage)
        self.out_store = open_store(self.cfg.output, self.cfg.storage)
        self.batches_seen = 0
        self.prefetched_used = 0
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agiqa-next-shard")
        self._order = CallOrder()

    def ready(self) -> str:
        import socket

        return f"{socket.gethostname()}:{os.getpid()}"

    def score(self, shard_dict: dict, seq: int) -> dict:
        """Runs on arrival (threaded actor): opening the shard starts at once on the I/O thread,
        while the engine thread may still be busy with the shard before it. `seq` is the driver's
        number for this call on this actor: shards are opened and scored in that order."""
        from agiqa.pipeline.shards import open_shard
        from agiqa.storage.base import ShardInfo

        shard = ShardInfo(**shard_dict)

        def enqueue() -> Future:
            opening = self._io.submit(open_shard, shard, self.cfg, self.processor, self.in_store)
            return self._engine.submit(self._score, shard, opening)

        return self._order.run_in_turn(seq, enqueue).result()

    def _score(self, shard, opening: Future) -> dict:
        from agiqa.pipeline.shards import run_shard

        if opening.done():
            self.prefetched_used += 1  # opened and first batch decoded before its turn
        try:
            opened = opening.result()
        except Exception:
            opened = None  # open it again in run_shard, which reports the reason
        report = run_shard(shard, self.cfg, self.processor, self.in_store, self.out_store,
                           crash_hook=self._crash_hook, opened=opened)
        if os.environ.get("AGIQA_TEST_CRASH_AFTER_COMMIT") == shard.rel:
            os._exit(1)
        return report.to_dict()

    def stats(self) -> dict:
        return {"batches_seen": self.batches_seen, "prefetched_used": self.prefetched_used}

    def _crash_hook(self, shard, index: int) -> None:
        self.batches_seen += 1
        if index == 0 and os.environ.get("AGIQA_TEST_CRASH_SHARD") == shard.rel:
            os._exit(1)
        at = os.environ.get("AGIQA_TEST_CRASH_AT_BATCH")
        marker = os.environ.get("AGIQA_TEST_CRASH_MARKER")
        if at and marker and self.batches_seen == int(at) and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)


def load_factory(path: str | None):
    """A processor factory by import path 'module:function' (default: the real M3 processor)."""
    if not path:
        from agiqa.pipeline.factory import build_processor

        return build_processor
    import importlib

    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def test_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(TEST_ENV_PREFIX)}
