"""One writer per output: a job holds a lease on its output for as long as it runs.

Without it two jobs on one output both report "done" while the output holds a mixture of their
shards (48 of one, 52 of the other), and two identical jobs both do all the work. The lease is a
small JSON object in the output's state root (`lease.json`) naming its holder (host, pid, a random
token), the job's identity and a heartbeat, rewritten every `ttl_s / 4` seconds:

- another job with **other settings** is refused before any model loads, in one line naming the
  holder;
- an **identical** job waits for the holder to finish (a line says so), then plans as usual: the
  shards the first committed are skipped, so the work is done once;
- a **stale** lease (no heartbeat for `ttl_s`, or a holder on this host whose process is gone) is
  taken over, and the log says whose it was.

Every write is conditional, so two jobs cannot both win: on S3 a create is a `PutObject` with
`If-None-Match: *` and a heartbeat or takeover a `PutObject` with `If-Match: <ETag>` (S3 since
2024, moto; a store that ignores them is detected at the first acquire and the lease becomes
best-effort, with a warning). Locally the same steps run under an `flock` of `lease.lock`.

Many drivers over one dataset (`runner.world_size` N > 1, `agiqa.runner.ranks`): each rank holds
its own lease, `lease.rank-R-of-N.json`, by the same rules, so the ranks run at once while two
drivers of one rank still exclude each other (an identical one waits). Once it holds its own, a
driver reads the other leases held there (`lease*.json`): one of another identity, or of another
world size (a single driver's `lease.json` among them), is refused in one line and the lease
given back, so two partitions of one output never write at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from agiqa.errors import ConfigError
from agiqa.storage.conditional import create_exclusive, delete_if, read_versioned, replace_if
from agiqa.storage.staging import process_alive

log = logging.getLogger(__name__)

LEASE_NAME = "lease.json"
LEASE_PREFIX = "lease"  # every lease in a state root: `lease.json`, `lease.rank-R-of-N.json`
TTL_S = 60.0
POLL_S = 2.0
_HELD_HERE: set[str] = set()  # tokens of the leases this process's jobs hold now


@dataclass
class Held:
    data: dict
    token: str  # the store's version of the lease object (ETag; local: a counter in the file)


def holder_text(data: dict, now: float) -> str:
    return (f"{data.get('host')}:{data.get('pid')} since "
            f"{time.strftime('%H:%M:%S', time.localtime(data.get('started', now)))}, "
            f"last heartbeat {now - data.get('heartbeat', now):.0f} s ago")


class OutputLease:
    """`with OutputLease(store, output, identity):` held for the job; see the module docstring."""

    def __init__(self, store, output: str, identity: str, ttl_s: float = TTL_S, wait: bool = True,
                 rank: int = 0, world_size: int = 1):
        from agiqa.storage.layout import state_uri

        self.store, self.output, self.identity, self.ttl_s, self.wait = store, output, identity, ttl_s, wait
        self.rank, self.world_size = rank, world_size
        self.uri = state_uri(output, lease_name(rank, world_size))
        self.me = {"host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex,
                   "identity": identity, "started": time.time(), "heartbeat": time.time(), "ttl_s": ttl_s}
        if world_size > 1:
            self.me.update(rank=rank, world_size=world_size)
        self.held: Held | None = None
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- acquire / release -----------------------------------------------------------------------
    def __enter__(self) -> OutputLease:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        said = False
        while True:
            token = create_exclusive(self.store, self.uri, self._body())
            if token is not None:
                self.held = Held(dict(self.me), token)
                break
            current = read_versioned(self.store, self.uri)
            if current is None:
                continue  # released between the two calls: try again
            data, token = current
            now = time.time()
            if self._stale(data, now):
                log.warning("output %s: taking over the stale lease of %s", self.output, holder_text(data, now))
                new = replace_if(self.store, self.uri, self._body(), token)
                if new is not None:
                    self.held = Held(dict(self.me), new)
                    break
                continue  # someone else took it first
            if data.get("identity") != self.identity:
                raise ConfigError(f"output {self.output} is being written by another job with other settings "
                                  f"({holder_text(data, now)}); wait for it to finish, or choose another --output")
            if not self.wait:
                raise ConfigError(f"output {self.output} is being written by an identical job "
                                  f"({holder_text(data, now)})")
            if not said:
                log.warning("output %s: an identical job is writing it (%s); waiting for it to finish, then "
                            "only what it left is done", self.output, holder_text(data, now))
                said = True
            time.sleep(POLL_S)
        _HELD_HERE.add(self.me["token"])
        self._thread = threading.Thread(target=self._beat, name="agiqa-lease", daemon=True)
        self._thread.start()
        try:
            self._refuse_other_partitions()
        except BaseException:
            self.release()
            raise

    def _refuse_other_partitions(self) -> None:
        """ConfigError when another live lease on this output is of another job or another world size."""
        from agiqa.storage.state_files import state_files_named

        for uri in state_files_named(self.store, self.output, LEASE_PREFIX):
            if uri == self.uri:
                continue
            current = read_versioned(self.store, uri)
            now = time.time()
            if current is None or not current[0] or self._stale(current[0], now):
                continue
            data = current[0]
            theirs = int(data.get("world_size", 1))
            if data.get("identity") != self.identity:
                raise ConfigError(f"output {self.output} is being written by another job with other settings "
                                  f"({_whose(data)}{holder_text(data, now)}); wait for it to finish, or choose "
                                  "another --output")
            if theirs != self.world_size:
                raise ConfigError(f"output {self.output} is being written by the same job split {theirs} way(s) "
                                  f"({_whose(data)}{holder_text(data, now)}); this driver has --world-size "
                                  f"{self.world_size}: give every driver the same --world-size")

    def release(self) -> None:
        _HELD_HERE.discard(self.me["token"])
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.held is not None and not self.lost:
            try:
                delete_if(self.store, self.uri, self.held.token)
            except Exception as e:  # the store is down at the very end: the lease expires by itself
                log.warning("output %s: the lease could not be released (%s); it expires in %.0f s",
                            self.output, e, self.ttl_s)
        self.held = None

    # -- internals -------------------------------------------------------------------------------
    def _body(self) -> dict:
        self.me["heartbeat"] = time.time()
        return dict(self.me)

    def _stale(self, data: dict, now: float) -> bool:
        if now - float(data.get("heartbeat", 0)) > float(data.get("ttl_s", self.ttl_s)):
            return True
        if data.get("host") == self.me["host"] and isinstance(data.get("pid"), int):
            if data["pid"] == os.getpid():  # this process: stale unless one of its jobs still holds it
                return data.get("token") not in _HELD_HERE
            return not process_alive(data["pid"])
        return False

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl_s / 4):
            try:
                new = replace_if(self.store, self.uri, self._body(), self.held.token)
            except Exception as e:  # a storage hiccup: the next beat tries again within the ttl
                log.warning("output %s: lease heartbeat failed (%s)", self.output, e)
                continue
            if new is None:
                self.lost = True
                log.error("output %s: the lease was taken over by another job (this one stalled for over "
                          "%.0f s); its shards commit as usual, but check the summary", self.output, self.ttl_s)
                return
            self.held.token = new


def lease_name(rank: int, world_size: int) -> str:
    """`lease.json` for one driver; `lease.rank-R-of-N.json` for rank R of N."""
    from agiqa.runner.ranks import rank_tag

    return LEASE_NAME if world_size <= 1 else f"lease.{rank_tag(rank, world_size)}.json"


def _whose(data: dict) -> str:
    return f"rank {data['rank']} of {data['world_size']}, " if int(data.get("world_size", 1)) > 1 else ""


def job_identity(job) -> str:
    """What makes two jobs on one output the same job: the output and every pass's stage identity
    (a pass built from reduce results counts by its output only: its identity is known later)."""
    from agiqa.runner.job import Pass
    from agiqa.runner.manifest import identity_hash

    parts = [job.output]
    for p in job.passes:
        if isinstance(p, Pass):
            parts.append(p.stage.identity() if hasattr(p.stage, "process") else {"output": p.output})
    return identity_hash({"passes": parts})


def lease_for(job, wait: bool = True) -> OutputLease:
    return OutputLease(job.open_store(job.output, job.storage), job.output, job_identity(job), wait=wait,
                       rank=job.rank, world_size=job.world_size)
