"""An audit as runner steps: per scored root a partial pass (`agiqa.stages.audit`: one statistics
table per shard), then a reduce merging those tables, in shard order, into the `Collected` the report
is built from.

    [Pass(audit, COMPARE -> partials/audit-compare)]  Pass(audit, INPUT -> partials/audit-input)
    [Reduce(audit-compare)]  Reduce(audit-input)

The partials live in the report folder's state root (`<OUTPUT>.agiqa/partials/audit-<which>/`, a
manifest per shard beside them), so a rerun over unchanged shards merges without reading a row. The
input's pass comes last, so the job's lease and summary are always in the same place for one report.
A reduce merges exactly the shards the audit listed (a score job's committed ones, never a stray
file), each through its manifest (`workflows.partials`): one without a committed partial fails the
audit naming it.
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
        merged[which] = total = _merged(ctx.store(where), root, where, shards, stage.identity(), spec)
        return {"shards": total.shards, "rows": sum(g.rows for g in total.groups.values()),
                "groups": len(total.groups)}

    return Pass(stage, root, where), Reduce(f"audit-{which}", merge)


def _merged(store, root: str, where: str, shards: list, identity: dict, spec: AuditSpec) -> Collected:
    """`shards`' committed partials merged in order; one with too many groups refuses the audit in one line."""
    from agiqa.audit.partial import from_table
    from agiqa.storage.names import shown
    from agiqa.workflows.partials import committed_partials

    total = Collected()
    for shard, table in committed_partials(store, root, where, shards, identity, "audit"):
        collected, overflowed = from_table(table)
        if overflowed:
            raise DataError(f"group-by {'+'.join(spec.group_by)} has more than {spec.max_groups} distinct values (in "
                            f"shard {shown(shard.rel)} alone); group by a coarser column (or raise max_groups)")
        total.merge(collected, spec)
    return total
