"""`agiqa eval`: agreement between predicted scores and human (or known) MOS, per aspect.

Reads scored shards (a folder or s3:// prefix). Labels are `<aspect>_mos` columns: either kept
in the scored shards (agiqa keeps every input column), or read from `--labels` shards and
joined on the id column. Rows with `status=error` or a missing label are left out and counted.
"""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--scored", required=True, help="Scored shards: folder or s3:// prefix.")
    p.add_argument("--labels", help="Shards with <aspect>_mos columns, joined on --id-column.")
    p.add_argument("--id-column", default="id", help="Row id column (joins --labels to the scored rows).")
    p.add_argument("--json", help="Also write the metrics here as strict JSON (an undefined metric is null).")


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
        text = json.dumps(finite_or_null(result), indent=2, allow_nan=False)  # strict JSON: no NaN, no Infinity
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


def finite_or_null(value):
    """`value` with every NaN or infinite float replaced by None (JSON null): a metric that is undefined
    (a constant score column, fewer than two rows) is absent, not a token most JSON parsers refuse."""
    import math

    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_null(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # a numpy scalar
        return finite_or_null(value.item())
    return value
