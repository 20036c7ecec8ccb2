"""Progress: a tqdm bar on a terminal, a log line every few seconds otherwise (CI, Ray jobs)."""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("agiqa.progress")


class Progress:
    def __init__(self, total: int, enabled: bool = True, every_s: float = 5.0):
        self.total, self.done, self.rows = total, 0, 0
        self.t0 = time.monotonic()
        self.last_log = 0.0
        self.every_s = every_s
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="shard", desc="scoring", dynamic_ncols=True)

    def update(self, rows: int, actors_alive: int | None = None) -> None:
        self.done += 1
        self.rows += rows
        elapsed = time.monotonic() - self.t0
        rate = self.rows / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) * elapsed / self.done if self.done else float("nan")
        extra = f", actors {actors_alive}" if actors_alive is not None else ""
        if self.bar is not None:
            self.bar.set_postfix_str(f"{rate:.1f} rows/s{extra}")
            self.bar.update(1)
        elif time.monotonic() - self.last_log >= self.every_s or self.done == self.total:
            self.last_log = time.monotonic()
            log.info("shards %d/%d, %.1f rows/s, ETA %.0f s%s", self.done, self.total, rate, eta, extra)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
