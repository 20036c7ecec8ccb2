"""Progress: a tqdm bar on a terminal, a plain log line every few seconds otherwise (CI, Ray jobs, pipes).

Rows are counted as batches finish, not when a whole shard commits: a 10,000-row shard at GPU
rates is many minutes, and a job should never look stalled while it works. For the same reason a
heartbeat thread writes a line at least every `every_s` seconds (plus one) even when no batch has
finished since the last one (a model loading, one long batch), and the ETA is computed from rows:
the rows still to do (the shards' row counts, read off the Parquet footers as shards open, scaled
to every shard of the pass) over the row rate so far, so it moves within a shard.

Rows seen batch by batch can run ahead of the truth (a shard that fails after some batches is
retried, its rows seen twice; the Ray driver polls its actors every few seconds), so the final
line counts the rows of settled shards from their reports: the same numbers as the job summary.
Piped output gets no bar and no control codes.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

log = logging.getLogger("agiqa.progress")


class Progress:
    def __init__(self, total: int, enabled: bool = True, every_s: float = 5.0, what: str = "scoring",
                 heartbeat: bool = True):
        self.total, self.done, self.failed = total, 0, 0
        self.rows = 0  # rows of batches written so far (live)
        self.rows_settled = 0  # rows of settled shards, from their reports (exact)
        self.opened, self.opened_rows = 0, 0  # shards opened and their rows (Parquet footers)
        self.t0 = time.monotonic()
        self.running = False  # until `started`: the engines are still being set up
        self.last_log = 0.0
        self.every_s = every_s
        self.actors: int | None = None
        self.enabled = enabled
        self.bar = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="shard", desc=what, dynamic_ncols=True)
        if enabled and heartbeat:
            self._beat = threading.Thread(target=self._heartbeat, name="agiqa-progress", daemon=True)
            self._beat.start()

    def started(self) -> None:
        """The engines are ready: the row rate (and the ETA) count from now, not from the model load."""
        self.t0, self.running = time.monotonic(), True

    def shard_opened(self, rows: int, shards: int = 1) -> None:
        """`shards` shards were opened, holding `rows` rows (their footers): what the ETA scales from."""
        self.opened += shards
        self.opened_rows += rows

    def add_rows(self, n: int) -> None:
        """Rows of a batch that just finished (called on the streamer's writer thread, or by the Ray driver)."""
        self.rows += n
        self._show()

    def shard_done(self, actors_alive: int | None = None, rows: int = 0, failed: bool = False) -> None:
        """A shard settled: committed with `rows` rows, or `failed` for good."""
        self.done += 1
        self.failed += bool(failed)
        self.rows_settled += rows
        self.actors = actors_alive if actors_alive is not None else self.actors
        if self.bar is not None:
            self.bar.update(1)
        self._show(force=self.done == self.total)

    def line(self) -> str:
        """The progress line as it stands: shards, rows, rate, ETA (or, once every shard settled, the total)."""
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        if not self.running and not self.done:
            return f"shards 0/{self.total}, starting ({elapsed:.0f} s)"
        final = self.done >= self.total
        rows = self.rows_settled if final else max(self.rows, self.rows_settled)
        rate = rows / elapsed
        failed = f" ({self.failed} failed)" if self.failed else ""
        extra = f", actors {self.actors}" if self.actors is not None else ""
        tail = f"done in {elapsed:.0f} s" if final else f"ETA {_eta(self._total_rows(rows), rows, rate)}"
        return f"shards {self.done}/{self.total}{failed}, rows {rows}, {rate:.1f} rows/s, {tail}{extra}"

    def _total_rows(self, rows: int) -> float | None:
        """The pass's rows: those of the shards opened so far, scaled to every shard (None: no clue yet)."""
        if self.opened:
            return max(self.opened_rows / self.opened * self.total, rows)
        if self.done > self.failed:
            return max(self.rows_settled / (self.done - self.failed) * self.total, rows)
        return None

    def _show(self, force: bool = False) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self.bar is not None:
                self.bar.set_postfix_str(self.line().split(", ", 1)[-1], refresh=False)
                self.bar.refresh()
            elif force or time.monotonic() - self.last_log >= self.every_s:
                self.last_log = time.monotonic()
                log.info("%s", self.line())

    def _heartbeat(self) -> None:
        while not self._stop.wait(max(0.05, min(1.0, self.every_s))):
            if time.monotonic() - self.last_log >= self.every_s:
                self._show()

    def close(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        if self.bar is not None:
            self.bar.close()


def _eta(total_rows: float | None, rows: int, rate: float) -> str:
    if total_rows is None or rate <= 0:
        return "?"
    s = (total_rows - rows) / rate
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"
