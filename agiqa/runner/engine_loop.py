"""EngineLoop: where a stage's model work runs — one compute thread, beside one asyncio event loop.

A plain (sync) `process` or `score` runs on the **compute thread**, one call at a time, as the
engine thread always did: all of a sync method's torch work (setup included) stays on that one
thread, because torch's OpenMP pool belongs to the calling thread and an idle pool of another thread
spins and steals the cores (measured: throughput halved once two threads had run torch ops). The
**event loop** meanwhile stays free to write finished batches, commit shards and hand out work, so a
long sync batch never holds back the commit of the shard before it.

A coroutine `process` or `score` runs on the loop itself: that is what lets one engine keep several
batches in flight (an async engine such as vLLM's `AsyncLLM`, or CLIP waiting on its GPU).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

_BY_LOOP: dict[int, EngineLoop] = {}


async def resolved(value: Any) -> Any:
    """`value`, awaited if it is awaitable."""
    if inspect.isawaitable(value):
        return await value
    return value


async def offload(fn, *args) -> Any:
    """`fn(*args)` from a coroutine: a coroutine function runs here on the loop; a plain function on the
    engine's compute thread (the loop stays free), and a coroutine it returns is awaited here. Outside an
    engine loop (a script's `run_sync`) a plain function simply runs in place."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    engine = _BY_LOOP.get(id(asyncio.get_running_loop()))
    if engine is None:
        return await resolved(fn(*args))
    return await resolved(await asyncio.get_running_loop().run_in_executor(engine.compute, fn, *args))


class EngineLoop:
    def __init__(self, name: str = "agiqa-engine"):
        self.loop = asyncio.new_event_loop()
        self.compute = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._thread = threading.Thread(target=self._run, name=f"{name}-loop", daemon=True)
        _BY_LOOP[id(self.loop)] = self
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro) -> Future:
        """Schedule a coroutine on the loop; coroutines submitted from one thread start in submission order."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, fn, *args) -> Any:
        """`fn(*args)` as `offload` runs it (a plain function on the compute thread: setup, teardown, a sync
        `process`), waited for here."""
        return self.submit(offload(fn, *args)).result()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.compute.shutdown(wait=True)
        _BY_LOOP.pop(id(self.loop), None)
        if not self._thread.is_alive():
            self.loop.close()


def run_sync(value: Any) -> Any:
    """`value`, run to completion here if it is a coroutine: for scripts and tests that call a stage's
    `process` or a method's `score` directly, outside the runner (a fresh event loop each call)."""
    if inspect.isawaitable(value):
        return asyncio.run(resolved(value))
    return value
