"""Drivers for one vLLM generation engine: requests awaited from any event loop, RPCs to its workers.

- `AsyncLLMDriver` (GPU, the default there): vLLM's `AsyncLLM` (V1), whose engine core runs in its
  own process, so scheduling, input preparation and detokenisation overlap the GPU. It lives on a
  private event loop thread (the shape of Ray's vLLM wrapper): callers on any loop (the actor's
  engine loop, a script's `asyncio.run`) await it without sharing its loop.
- `InprocDriver` (CPU, the default there): vLLM's `LLMEngine` in this process, stepped by one
  thread. On CPU the engine process of `AsyncLLM` costs ~25 s at start for nothing (there is no
  device to overlap with), and torch's thread pool stays with the one thread that steps.

Both run the requests concurrently (continuous batching), return each `RequestOutput` when its
request finishes, and stop with `shutdown()`, which frees the engine's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from concurrent.futures import Future
from typing import Any


class AsyncLLMDriver:
    def __init__(self, engine_args: dict):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="agiqa-vllm-loop", daemon=True)
        self._thread.start()
        self.engine = self._on_loop(self._start(engine_args)).result()
        self.vllm_config = self.engine.vllm_config

    async def _start(self, engine_args: dict):
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        return AsyncLLM.from_engine_args(AsyncEngineArgs(**engine_args))

    def _on_loop(self, coro) -> Future:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _generate(self, prompt, params, lora, request_id: str):
        last = None
        async for out in self.engine.generate(prompt, params, request_id, lora_request=lora):
            last = out
        return last

    async def generate(self, prompt, params, lora, request_id: str):
        """The request's final `RequestOutput`; cancelling the caller aborts the request."""
        return await asyncio.wrap_future(self._on_loop(self._generate(prompt, params, lora, request_id)))

    def rpc(self, method: str, *args) -> list:
        """`method(*args)` on every worker (the tap's calls), from a thread that is not on this loop."""
        return self._on_loop(self.engine.collective_rpc(method, args=args)).result()

    async def rpc_async(self, method: str, *args) -> list:
        return await asyncio.wrap_future(self._on_loop(self.engine.collective_rpc(method, args=args)))

    async def _shutdown(self) -> None:
        self.engine.shutdown()  # on its own loop: it cancels the engine's output task there

    def shutdown(self) -> None:
        if self.engine is not None:
            self._on_loop(self._shutdown()).result()
            self.engine = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)


class InprocDriver:
    def __init__(self, engine_args: dict):
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        self._jobs: queue.Queue = queue.Queue()
        self._waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future]] = {}
        self._stopped = False
        started: Future = Future()
        self._thread = threading.Thread(target=self._run, args=(engine_args, started), name="agiqa-vllm-step",
                                        daemon=True)
        self._thread.start()
        self.engine = started.result()
        self.vllm_config = self.engine.vllm_config

    def _run(self, engine_args: dict, started: Future) -> None:
        try:
            from vllm.engine.arg_utils import EngineArgs
            from vllm.v1.engine.llm_engine import LLMEngine

            engine = LLMEngine.from_engine_args(EngineArgs(**engine_args))
        except BaseException as e:  # noqa: BLE001 - handed to the constructor's caller
            started.set_exception(e)
            return
        started.set_result(engine)
        while not self._stopped:
            busy = engine.has_unfinished_requests()
            try:
                job = self._jobs.get(block=not busy)
            except queue.Empty:
                job = None
            while job is not None:
                job(engine)
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    job = None
            if self._stopped or not engine.has_unfinished_requests():
                continue
            try:
                outputs = engine.step()
            except BaseException as e:  # noqa: BLE001 - every waiting request learns why
                for rid in list(self._waiting):
                    self._resolve(rid, error=e)
                raise
            for out in outputs:
                if out.finished:
                    self._resolve(out.request_id, out)

    def _resolve(self, rid: str, value: Any = None, error: BaseException | None = None) -> None:
        entry = self._waiting.pop(rid, None)
        if entry is None:
            return
        loop, fut = entry

        def settle():
            if not fut.done():
                fut.set_exception(error) if error is not None else fut.set_result(value)

        loop.call_soon_threadsafe(settle)

    async def generate(self, prompt, params, lora, request_id: str):
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def add(engine):
            try:
                self._waiting[request_id] = (loop, fut)
                engine.add_request(request_id, prompt, params, lora_request=lora)
            except BaseException as e:  # noqa: BLE001 - the caller gets it
                self._resolve(request_id, error=e)

        self._jobs.put(add)
        try:
            return await fut
        except asyncio.CancelledError:
            self._jobs.put(lambda engine: (self._waiting.pop(request_id, None),
                                           engine.abort_request([request_id])))
            raise

    def _rpc(self, method: str, args: tuple) -> Future:
        done: Future = Future()

        def call(engine):
            try:
                done.set_result(engine.collective_rpc(method, args=args))
            except BaseException as e:  # noqa: BLE001 - the caller gets it
                done.set_exception(e)

        self._jobs.put(call)
        return done

    def rpc(self, method: str, *args) -> list:
        return self._rpc(method, args).result()

    async def rpc_async(self, method: str, *args) -> list:
        return await asyncio.wrap_future(self._rpc(method, args))

    def shutdown(self) -> None:
        self._stopped = True
        self._jobs.put(lambda engine: None)
        self._thread.join(timeout=60)
        engine, self.engine = self.engine, None
        if engine is not None:
            with contextlib.suppress(Exception):
                engine.engine_core.shutdown()
