"""`agiqa eval` as runner steps: a partial pass over the scored shards (`agiqa.stages.eval`: per shard,
per aspect, the (pred, mos) pairs and their moments), then a reduce that concatenates the pairs in
shard order, ranks once (SRCC, KRCC, logistic fits, RMSE as before) and merges PLCC from the moments.

    Pass(eval, SCORED -> PARTIALS)  Reduce(eval)

PARTIALS is `<SCORED>.agiqa/partials/eval/` (the scored output's state root) unless given: a rerun over
unchanged shards and labels reads no scored row. The merge holds every pair once: rows x 16 bytes on
the driver (16 MB for a 10^6-row human-rated set). Columns are checked before anything runs.
"""

from __future__ import annotations

from agiqa.aspects import ASPECTS
from agiqa.errors import DataError, UserError
from agiqa.runner.job import Pass, Reduce, ShardJob
from agiqa.stages.eval import EvalStage, Labels

PARTIALS_DIR = "partials/eval"


def _shards(store, root: str) -> list:
    from agiqa.storage.layout import committed_shards
    from agiqa.storage.names import unsafe_name

    return [s for s in committed_shards(store, root) if not unsafe_name(s.rel)]


def _schema(store, shard):
    import pyarrow.parquet as pq

    with store.open_read(shard.uri) as f:
        return pq.ParquetFile(f).schema_arrow


def read_labels(root: str, id_column: str, storage=None) -> Labels:
    """The `--labels` shards' id and `<aspect>_mos` columns (only those: no image bytes, no dicts)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from agiqa.storage import open_store

    store = open_store(root, storage)
    tables = []
    for s in _shards(store, root):
        with store.open_read(s.uri) as f:
            pf = pq.ParquetFile(f)
            names = pf.schema_arrow.names
            if id_column not in names:
                raise DataError(f"--labels {root}: shard {s.rel} has no {id_column!r} column; columns: "
                                f"{', '.join(names)}")
            cols = [id_column, *(f"{a}_mos" for a in ASPECTS if f"{a}_mos" in names)]
            t = pf.read(columns=cols)
            try:
                tables.append(t.cast(pa.schema([pa.field(id_column, pa.string())]
                                               + [pa.field(c, pa.float64()) for c in cols[1:]])))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise DataError(f"--labels {root}: shard {s.rel}: the <aspect>_mos columns must be numbers "
                                f"({type(e).__name__}: {str(e).splitlines()[0]})") from None
    if not tables:
        raise UserError(f"--labels {root}: no *.parquet shards there")
    return Labels.of(pa.concat_tables(tables, promote_options="default"), id_column, list(ASPECTS))


def run_eval(scored: str, labels: str | None = None, id_column: str = "id", partials: str | None = None,
             storage=None, runner: str = "local", address: str | None = None, progress: bool = False) -> dict:
    """Metrics per aspect (`evaluation.partial.merged_metrics`) and the job's passes (`passes`, with
    shards_done / shards_skipped)."""
    from agiqa.evaluation.partial import merge_tables, merged_metrics
    from agiqa.runner.reduce import committed_partials
    from agiqa.runner.run import run_job
    from agiqa.storage import open_store
    from agiqa.storage.layout import state_uri

    if runner == "ray":
        from agiqa.extras import require

        require("score", ("ray",), "evaluating on Ray (or --runner local)")
    store = open_store(scored, storage)
    shards = _shards(store, scored)
    if not shards:
        raise UserError(f"no scored rows under {scored}")
    names = _schema(store, shards[0]).names
    aspects = [a for a in ASPECTS if f"{a}_score" in names]
    label_table = read_labels(labels, id_column, storage) if labels else None
    if label_table is not None and id_column not in names:
        raise UserError(f"--id-column {id_column!r} is not in {scored}; columns: {', '.join(names)}")
    columns = [c for c in [id_column if labels else None, "status", *(f"{a}_score" for a in aspects),
                           *(f"{a}_mos" for a in aspects)] if c and c in names]
    stage = EvalStage(aspects, columns, id_column, label_table)
    where = partials or state_uri(scored, PARTIALS_DIR)
    held: dict = {}

    def merge(ctx) -> dict:
        tables = (t for _, t in committed_partials(ctx.store(where), scored, where, shards, stage.identity(), "eval"))
        held["merged"] = m = merge_tables(tables, aspects)
        return {"rows": m.rows, "matched": m.matched, "pairs": {a: len(p) for a, (p, _) in m.pairs.items()}}

    from agiqa.runner.job import RunSettings

    job = ShardJob(passes=[Pass(stage, scored, where), Reduce("eval", merge)], storage=storage,
                   runner=RunSettings(kind=runner, address=address), progress=progress)
    summary = run_job(job)
    m = held["merged"]
    if not m.rows:
        raise UserError(f"no scored rows under {scored}")
    if label_table is not None and not m.matched:
        raise UserError(f"--labels {labels}: no {id_column!r} matches an id of the scored rows "
                        "(wrong labels, or another --id-column?)")
    return {"metrics": merged_metrics(m), "passes": summary.passes, "partials": where}
