"""Riding out a storage outage: transient faults retried with backoff within a time budget.

botocore's own retries (`max_attempts`, a few seconds in all) absorb a dropped connection, not an
endpoint that is down for a minute; before this a 60 s S3 outage failed a third of a job's shards
as "not a readable Parquet file". Here a call that fails with a transient fault (unreachable
endpoint, timeout, throttling, 5xx, a short read) is tried again, waiting 0.5 s, 1 s, 2 s, ... up
to 15 s between tries, until `StorageConfig.outage_budget_s` (default 300 s) has passed since the
first failure; then `StorageUnavailable` says so in one line, and the runner charges the shard an
attempt (a storage fault, never bad data). A fault that is not transient (access denied, no such
bucket) is raised at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from agiqa.storage.base import StorageError
from agiqa.storage.s3_errors import describe_error, is_transient

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_BUDGET_S = 300.0


class StorageUnavailable(StorageError):
    """The store stayed unreachable (or kept failing transiently) for the whole outage budget."""


def with_retry(fn: Callable[[], T], what: str, budget_s: float = DEFAULT_BUDGET_S,
               transient: Callable[[Exception], bool] = is_transient) -> T:
    """`fn()`, retried on transient faults for up to `budget_s` seconds after the first one."""
    first = None
    delay = 0.5
    while True:
        try:
            return fn()
        except StorageUnavailable:
            raise
        except Exception as e:
            if not transient(e):
                raise
            now = time.monotonic()
            if first is None:
                first = now
                log.warning("storage: %s failed (%s); retrying for up to %.0f s", what, describe_error(e), budget_s)
            if now - first >= budget_s:
                raise StorageUnavailable(f"{what}: {describe_error(e)} (still failing after {now - first:.0f} s, "
                                         f"the storage outage budget)") from None
            time.sleep(min(delay, max(0.0, budget_s - (now - first))) * (0.75 + 0.5 * random.random()))
            delay = min(delay * 2, 15.0)
