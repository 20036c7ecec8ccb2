"""`agiqa eval`: agreement between predicted scores and human (or known) MOS, per aspect.

Reads scored shards (a folder or s3:// prefix). Labels are `<aspect>_mos` columns: either kept
in the scored shards (agiqa keeps every input column), or read from `--labels` shards and
joined on the id column. Rows with `status=error` or a missing label are left out and counted.
"""

from __future__ import annotations

HELP = "SRCC/PLCC/KRCC/RMSE per aspect for a scored output or a held-out split."


def add_arguments(p) -> None:
    p.add_argument("--scored", required=True, help="Scored shards: folder or s3:// prefix.")
    p.add_argument("--labels", help="Shards with <aspect>_mos columns, joined on --id-column.")
    p.add_argument("--id-column", default="id")
    p.add_argument("--json", help="Also write the metrics here as JSON.")


def _read_all(root: str) -> list[dict]:
    import pyarrow.parquet as pq

    from agiqa.storage import open_store

    store = open_store(root)
    rows: list[dict] = []
    for shard in store.list_shards(root):
        with store.open_read(shard.uri) as f:
            table = pq.ParquetFile(f).read()
        keep = [c for c in table.column_names if c != "image"]
        rows += table.select(keep).to_pylist()
    return rows


def evaluate(scored: list[dict], labels: list[dict] | None, id_column: str = "id") -> dict:
    from agiqa.aspects import ASPECTS
    from agiqa.training.metrics import metrics

    if labels is not None:
        by_id = {r[id_column]: r for r in labels}
        scored = [{**by_id.get(r.get(id_column), {}), **r} for r in scored]
    out = {}
    for a in ASPECTS:
        if not any(f"{a}_score" in r for r in scored):
            continue
        pairs = [(r[f"{a}_score"], r.get(f"{a}_mos")) for r in scored
                 if r.get("status") == "ok" and r.get(f"{a}_score") is not None and r.get(f"{a}_mos") is not None]
        m = metrics([p for p, _ in pairs], [y for _, y in pairs]) if pairs else {"n": 0}
        m["rows_left_out"] = len(scored) - len(pairs)
        out[a] = m
    return out


def format_table(result: dict) -> str:
    cols = ["n", "srcc", "plcc", "plcc_logistic5", "krcc", "rmse"]
    lines = [f"{'aspect':15s}" + "".join(f"{c:>15s}" for c in cols)]
    for a, m in result.items():
        cells = "".join(f"{m.get(c, float('nan')):>15.4f}" if c != "n" else f"{m.get('n', 0):>15d}" for c in cols)
        lines.append(f"{a:15s}{cells}")
    return "\n".join(lines)


def run(args) -> int:
    import json

    from agiqa.errors import UserError
    from agiqa.storage.base import StorageError

    try:
        scored = _read_all(args.scored)
        labels = _read_all(args.labels) if args.labels else None
    except (StorageError, OSError) as e:
        raise UserError(str(e)) from None
    if not scored:
        raise UserError(f"no scored rows under {args.scored}")
    result = evaluate(scored, labels, args.id_column)
    if not any(m.get("n") for m in result.values()):
        raise UserError("no rows with both a score and a <aspect>_mos label (give --labels?)")
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0
