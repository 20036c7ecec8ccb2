"""Duplicate ids across a job's shards, found after the job and reported (never silently accepted).

An id is how a scored row is joined back to its source, and how a top-fraction rule breaks ties:
two rows with one id make both ambiguous. Scoring does not need unique ids, so duplicates do not
fail the job; they are counted, with examples, in the summary (`reduced.duplicate_ids`) and a
warning.

Memory: one 8-byte hash per row (Python's `hash` of the id, consistent within this process), sorted
once; only the ids behind a repeated hash are then read again and counted exactly, so a hash
collision never reports a false duplicate. 10^8 rows take ~0.8 GB on the driver; the per-shard
partials of the executor work replace this beyond that.
"""

from __future__ import annotations

import logging
from collections import Counter

log = logging.getLogger(__name__)

EXAMPLES = 5


def duplicate_ids_step(root: str, id_column: str):
    """A `Reduce` over the shards under `root`: {rows, duplicate_ids, duplicate_rows, examples, null_ids}."""
    from agiqa.runner.job import Reduce

    def fn(ctx) -> dict:
        from agiqa.errors import DataError
        from agiqa.storage.base import StorageError

        try:
            return _count(ctx)
        except (DataError, StorageError) as e:  # an older output without ids, or the store down: say why
            log.warning("duplicate ids not checked under %s: %s", root, e)
            return {"checked": False, "reason": str(e)}

    def _count(ctx) -> dict:
        import numpy as np

        def ids():
            for t in ctx.scan(root, [id_column]):
                yield t.column(0).to_pylist()

        hashes, nulls = [], 0
        for values in ids():
            nulls += sum(v is None for v in values)
            hashes.append(np.fromiter((hash(v) for v in values if v is not None), np.int64))
        every = np.sort(np.concatenate(hashes)) if hashes else np.zeros(0, np.int64)
        repeated = set(every[1:][every[1:] == every[:-1]].tolist())
        counts: Counter = Counter()
        if repeated:
            for values in ids():
                counts.update(v for v in values if v is not None and hash(v) in repeated)
        dups = {v: n for v, n in counts.items() if n > 1}
        result = {"rows": int(every.size) + nulls, "duplicate_ids": len(dups),
                  "duplicate_rows": sum(dups.values()), "null_ids": nulls,
                  "examples": [str(v) for v, _ in sorted(dups.items(), key=lambda kv: (-kv[1], str(kv[0])))][:EXAMPLES]}
        if dups or nulls:
            log.warning("%d id(s) occur more than once under %s (%d rows; e.g. %s) and %d row(s) have no id: "
                        "joins on %r and top-fraction ties are ambiguous there", len(dups), root,
                        result["duplicate_rows"], ", ".join(map(repr, result["examples"])) or "-", nulls, id_column)
        return result

    return Reduce("duplicate_ids", fn)
