"""An audit as runner steps: per scored root a partial pass (`agiqa.stages.audit`: one statistics
table per shard), then a reduce merging those tables, in shard order, into the `Collected` the report
is built from.

    [Pass(audit, COMPARE -> partials/audit-compare)]  Pass(audit, INPUT -> partials/audit-input)
    [Reduce(audit-compare)]  Reduce(audit-input)

The partials live in the report folder's state root (`<OUTPUT>.agiqa/partials/audit-<which>/`, a
manifest per shard beside them), so a rerun over unchanged shards merges without reading a row. The
input's pass comes last, so the job's lease and summary are always in the same place for one report.
A reduce merges exactly the shards the audit listed (a score job's committed ones, never a stray
file), each through its manifest: one without a committed partial fails the audit naming it.
"""

from __future__ import annotations

from agiqa.audit.collect import AuditSpec, Collected
from agiqa.errors import DataError
from agiqa.runner.job import Pass, Reduce
from agiqa.stages.audit import AuditStage

PARTIALS_DIR = "partials"


def partials_root(output: str, which: str) -> str:
    """Where the partials of `which` ('input' or 'compare') of the report at `output` are committed."""
    from agiqa.storage.layout import state_uri

    return state_uri(output, f"{PARTIALS_DIR}/audit-{which}")


def audit_steps(which: str, root: str, shards: list, spec: AuditSpec, columns: list[str], output: str,
                merged: dict) -> tuple[Pass, Reduce]:
    """The pass over `root`'s shards and the reduce that puts their merged statistics in `merged[which]`
    (a Python object on the driver: it can be large, so the job's recorded result is only its size)."""
    stage = AuditStage(spec, columns)
    where = partials_root(output, which)

    def merge(ctx) -> dict:
        total = Collected()
        for part in committed_partials(ctx.store(where), root, where, shards, stage.identity(), spec):
            total.merge(part, spec)
        merged[which] = total
        return {"shards": total.shards, "rows": sum(g.rows for g in total.groups.values()),
                "groups": len(total.groups)}

    return Pass(stage, root, where), Reduce(f"audit-{which}", merge)


def committed_partials(store, root: str, where: str, shards: list, identity: dict, spec: AuditSpec):
    """Each of `shards`' partial `Collected`, in order, as committed under `where` for `identity` and the
    shard as listed now; a shard without one (its pass failed on it), or one with too many groups, is a
    DataError naming it: statistics of the other shards only would be wrong, not approximate."""
    import pyarrow.parquet as pq

    from agiqa.audit.partial import from_table
    from agiqa.runner.manifest import identity_hash, is_committed, read_manifest
    from agiqa.runner.reduce import bounded_map
    from agiqa.storage.names import shown
    from agiqa.storage.uri import join

    want = identity_hash(identity)

    def read(shard) -> Collected:
        if not is_committed(read_manifest(store, where, shard), want, shard, None):
            raise DataError(f"shard {shown(shard.rel)} under {root} has no committed audit partial (its pass failed "
                            "on it; see the job summary): the report would be wrong")
        with store.open_read(join(where, shard.rel)) as f:
            collected, overflowed = from_table(pq.read_table(f))
        if overflowed:
            raise DataError(f"group-by {'+'.join(spec.group_by)} has more than {spec.max_groups} distinct values (in "
                            f"shard {shown(shard.rel)} alone); group by a coarser column (or raise max_groups)")
        return collected

    yield from bounded_map(read, shards)

