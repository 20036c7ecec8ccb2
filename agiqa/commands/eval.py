"""`agiqa eval`: agreement between predicted scores and human (or known) MOS, per aspect.

Reads scored shards (a folder or s3:// prefix). Labels are `<aspect>_mos` columns: either kept
in the scored shards (agiqa keeps every input column), or read from `--labels` shards and
joined on the id column. Rows with `status=error` or a missing label are left out and counted.

It runs as a partial pass (`agiqa.workflows.eval`): per scored shard the (score, mos) pairs are
committed under `<SCORED>.agiqa/partials/eval/` (or `--partials`), then merged; a rerun over unchanged
shards and labels reads no scored row.
"""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--scored", required=True, help="Scored shards: folder or s3:// prefix.")
    p.add_argument("--labels", help="Shards with <aspect>_mos columns, joined on --id-column.")
    p.add_argument("--id-column", default="id", help="Row id column (joins --labels to the scored rows).")
    p.add_argument("--json", help="Also write the metrics here as strict JSON (an undefined metric is null).")
    p.add_argument("--partials", help="Where the per-shard pairs are committed (default SCORED.agiqa/partials/eval, "
                   "beside the scored shards); a writable folder when SCORED is read-only.")
    p.add_argument("--runner", choices=["local", "ray"], default="local",
                   help="Where the per-shard pass runs: local (default, this process) or ray.")
    p.add_argument("--address", help="Ray cluster address (with --runner ray; default RAY_ADDRESS, else a local Ray).")


def run(args) -> int:
    import json

    from agiqa.errors import UserError
    from agiqa.evaluation.evaluate import format_table
    from agiqa.storage.base import StorageError
    from agiqa.workflows.eval import run_eval

    try:
        result = run_eval(args.scored, args.labels, args.id_column, partials=args.partials, runner=args.runner,
                          address=args.address)["metrics"]
    except (StorageError, OSError) as e:
        raise UserError(str(e)) from None
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
