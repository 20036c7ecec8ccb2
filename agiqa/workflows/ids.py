"""Duplicate ids across a job's shards, found after the job and reported (never silently accepted).

An id is how a scored row is joined back to its source, and how a top-fraction rule breaks ties:
two rows with one id make both ambiguous. Scoring does not need unique ids, so duplicates do not
fail the job; they are counted, with examples, in the summary (`reduced.duplicate_ids`) and a
warning. Ingest reads the same result to fail on repeated tar keys or Parquet ids.

Memory, bounded whatever the row count: ids are hashed (Python's `hash`, consistent within this
process) into B buckets, B = ceil(rows / MAX_HASHES_PER_BUCKET) with rows read off the shards'
footers; each bucket is one pass over the `id` column keeping only that bucket's 8-byte hashes,
sorted once, so the peak is MAX_HASHES_PER_BUCKET hashes (8M: 64 MB, plus the sort's copy) plus
the repeated hashes found so far. 10^8 rows: 13 passes over the id column, never 0.8 GB at once.
Only the ids behind a repeated hash are then read again and counted exactly, so a hash collision
never reports a false duplicate.
"""

from __future__ import annotations

import logging
import math
from collections import Counter

log = logging.getLogger(__name__)

EXAMPLES = 5
#: The most 8-byte id hashes held at once (one bucket's); see the module docstring.
MAX_HASHES_PER_BUCKET = 8_000_000


def buckets_for(rows: int, per_bucket: int = MAX_HASHES_PER_BUCKET) -> int:
    """How many passes over the ids keep each pass's hashes at or under `per_bucket`."""
    return max(1, math.ceil(rows / per_bucket))


def duplicate_ids_step(root: str, id_column: str, shards=None, per_bucket: int | None = None):
    """A `Reduce` over the shards under `root` (or `shards(ctx)`: their relative names):
    {rows, duplicate_ids, duplicate_rows, examples, null_ids}."""
    from agiqa.runner.job import Reduce

    def fn(ctx) -> dict:
        from agiqa.errors import DataError
        from agiqa.storage.base import StorageError

        try:
            return _count(ctx, None if shards is None else shards(ctx))
        except (DataError, StorageError) as e:  # an older output without ids, or the store down: say why
            log.warning("duplicate ids not checked under %s: %s", root, e)
            return {"checked": False, "reason": str(e)}

    def _count(ctx, names) -> dict:
        import numpy as np

        def ids():
            for t in ctx.scan(root, [id_column], names):
                yield t.column(0).to_pylist()

        n_buckets = buckets_for(_rows(ctx, root, names), per_bucket or MAX_HASHES_PER_BUCKET)
        repeated, nulls, rows = set(), 0, 0
        for b in range(n_buckets):
            hashes = []
            for values in ids():
                if b == 0:
                    nulls += sum(v is None for v in values)
                h = np.fromiter((hash(v) for v in values if v is not None), np.int64)
                if b == 0:
                    rows += h.size
                hashes.append(h[h % n_buckets == b] if n_buckets > 1 else h)
            every = np.sort(np.concatenate(hashes)) if hashes else np.zeros(0, np.int64)
            del hashes
            repeated.update(every[1:][every[1:] == every[:-1]].tolist())
        counts: Counter = Counter()
        if repeated:
            for values in ids():
                counts.update(v for v in values if v is not None and hash(v) in repeated)
        dups = {v: n for v, n in counts.items() if n > 1}
        log.debug("duplicate ids under %s: %d bucket(s) of at most %d hashes", root, n_buckets,
                  per_bucket or MAX_HASHES_PER_BUCKET)
        result = {"rows": rows + nulls, "duplicate_ids": len(dups),
                  "duplicate_rows": sum(dups.values()), "null_ids": nulls,
                  "examples": [str(v) for v, _ in sorted(dups.items(), key=lambda kv: (-kv[1], str(kv[0])))][:EXAMPLES]}
        if dups or nulls:
            log.warning("%d id(s) occur more than once under %s (%d rows; e.g. %s) and %d row(s) have no id: "
                        "joins on %r and top-fraction ties are ambiguous there", len(dups), root,
                        result["duplicate_rows"], ", ".join(map(repr, result["examples"])) or "-", nulls, id_column)
        return result

    return Reduce("duplicate_ids", fn)


def _rows(ctx, root: str, names) -> int:
    """Rows under `root` from the shards' footers (no data read): sizes the buckets."""
    import pyarrow.parquet as pq

    from agiqa.storage.uri import join

    store = ctx.store(root)
    total = 0
    for rel in ctx.shard_names(root) if names is None else names:
        with store.open_read(join(root, rel)) as f:
            total += pq.ParquetFile(f).metadata.num_rows
    return total
