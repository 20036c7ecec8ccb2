"""EngineLoop: the one thread that runs a stage's model work, as an asyncio event loop.

All torch work (setup included) runs on this thread: torch's OpenMP pool belongs to the calling
thread, and an idle pool of another thread spins and steals the cores (measured: throughput
halved once two threads had run torch ops). Running it as an event loop lets a stage whose
`process` (or a method whose `score`) is a coroutine keep several batches in flight on one
engine, while a plain function simply runs to completion on the same thread, as before.

An async engine (vLLM's `AsyncLLM`) binds itself to the loop it was created on, so `setup`
runs here too, and the loop lives as long as the stage.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from concurrent.futures import Future
from typing import Any


async def resolved(value: Any) -> Any:
    """`value`, awaited if it is awaitable: the adapter that lets sync and async stages/methods share a path."""
    if inspect.isawaitable(value):
        return await value
    return value


class EngineLoop:
    def __init__(self, name: str = "agiqa-engine"):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro) -> Future:
        """Schedule a coroutine on the loop; coroutines submitted from one thread start in submission order."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, fn, *args) -> Any:
        """Run a plain function on the engine thread and wait for it (setup, teardown); a coroutine it
        returns is awaited there."""

        async def run():
            return await resolved(fn(*args))

        return self.submit(run()).result()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        if not self._thread.is_alive():
            self.loop.close()


def run_sync(value: Any) -> Any:
    """`value`, run to completion here if it is a coroutine: for scripts and tests that call a stage's
    `process` or a method's `score` directly, outside the runner (a fresh event loop each call)."""
    if inspect.isawaitable(value):
        return asyncio.run(resolved(value))
    return value
