"""Progress: a tqdm bar on a terminal, a plain log line every few seconds otherwise (CI, Ray jobs, pipes).

Rows are counted as batches finish, not when a whole shard commits: a 10,000-row shard at GPU
rates is many minutes, and a job should never look stalled while it works. Piped output gets no
bar and no control codes.
"""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("agiqa.progress")


class Progress:
    def __init__(self, total: int, enabled: bool = True, every_s: float = 5.0, what: str = "scoring"):
        self.total, self.done, self.rows = total, 0, 0
        self.t0 = time.monotonic()
        self.last_log = 0.0
        self.every_s = every_s
        self.actors: int | None = None
        self.enabled = enabled
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="shard", desc=what, dynamic_ncols=True)

    def add_rows(self, n: int) -> None:
        """Rows of a batch that just finished (called on the streamer's writer thread, or by the Ray driver)."""
        self.rows += n
        self._show()

    def shard_done(self, actors_alive: int | None = None) -> None:
        """A shard settled: committed, or failed for good."""
        self.done += 1
        self.actors = actors_alive if actors_alive is not None else self.actors
        if self.bar is not None:
            self.bar.update(1)
        self._show(force=self.done == self.total)

    def _show(self, force: bool = False) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.t0
        rate = self.rows / elapsed if elapsed > 0 else 0.0
        extra = f", actors {self.actors}" if self.actors is not None else ""
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.rows} rows, {rate:.1f} rows/s{extra}", refresh=False)
            self.bar.refresh()
        elif force or time.monotonic() - self.last_log >= self.every_s:
            self.last_log = time.monotonic()
            eta = (self.total - self.done) * elapsed / self.done if self.done else float("nan")
            log.info("shards %d/%d, rows %d, %.1f rows/s, ETA %.0f s%s", self.done, self.total, self.rows, rate, eta,
                     extra)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
