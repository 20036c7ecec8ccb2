"""Reading a partial pass's tables for exactly the shards a job listed (`ReduceContext.partials` reads
every shard under a root; `audit` and `eval` read a score job's *committed* shards only, never a
stray file no manifest names), each checked against its manifest."""

from __future__ import annotations

from collections.abc import Iterator

from agiqa.errors import DataError


def committed_partials(store, root: str, where: str, shards: list, identity: dict, what: str) -> Iterator:
    """Each of `shards`' partial table (a `pyarrow.Table`), in order, as committed under `where` for
    `identity` and the shard as listed now. A shard without one (its pass failed on it) is a DataError
    naming it: a result merged from the other shards only would be wrong, not approximate."""
    import pyarrow.parquet as pq

    from agiqa.runner.manifest import identity_hash, is_committed, read_manifest
    from agiqa.runner.reduce import bounded_map
    from agiqa.storage.names import shown
    from agiqa.storage.uri import join

    want = identity_hash(identity)

    def read(shard):
        if not is_committed(read_manifest(store, where, shard), want, shard, None):
            raise DataError(f"shard {shown(shard.rel)} under {root} has no committed {what} partial (its pass failed "
                            "on it; see the job summary): the result would be wrong")
        with store.open_read(join(where, shard.rel)) as f:
            return shard, pq.read_table(f)

    yield from bounded_map(read, shards)
