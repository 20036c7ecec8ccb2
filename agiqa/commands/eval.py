"""`agiqa eval`: agreement between predicted scores and human (or known) MOS, per aspect.

Reads scored shards (a folder or s3:// prefix). Labels are `<aspect>_mos` columns: either kept
in the scored shards (agiqa keeps every input column), or read from `--labels` shards and
joined on the id column. Rows with `status=error` or a missing label are left out and counted.
"""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--scored", required=True, help="Scored shards: folder or s3:// prefix.")
    p.add_argument("--labels", help="Shards with <aspect>_mos columns, joined on --id-column.")
    p.add_argument("--id-column", default="id")
    p.add_argument("--json", help="Also write the metrics here as JSON.")


def run(args) -> int:
    import json

    from agiqa.data.rows import read_rows
    from agiqa.errors import UserError
    from agiqa.evaluation.evaluate import evaluate, format_table
    from agiqa.storage.base import StorageError

    try:
        scored = read_rows(args.scored, drop_columns=("image",))
        labels = read_rows(args.labels, drop_columns=("image",)) if args.labels else None
    except (StorageError, OSError) as e:
        raise UserError(str(e)) from None
    if not scored:
        raise UserError(f"no scored rows under {args.scored}")
    if labels is not None:
        ids = {r.get(args.id_column) for r in labels}
        if not any(r.get(args.id_column) in ids for r in scored):
            raise UserError(f"--labels {args.labels}: no {args.id_column!r} matches an id of the scored rows "
                            "(wrong labels, or another --id-column?)")
    result = evaluate(scored, labels, args.id_column)
    if not any(m.get("n") for m in result.values()):
        raise UserError("no rows with both a score and a <aspect>_mos label (give --labels?)")
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0
