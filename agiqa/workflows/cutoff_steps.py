"""One top-fraction cutoff as runner steps: partial passes of histograms, then of the final bucket,
each followed by a reduce that reads only the partials (`agiqa.stages.cutoff`).

    Pass(histogram 1) -> Reduce(-h1) -> Pass(histogram 2)? -> Reduce(-h2) ... -> Pass(bucket)? -> Reduce(name)

Histogram levels after the first are skipped once the search has converged (their factories
return None), so a job usually runs two passes per cutoff; the last reduce, named `name`, returns
the `RankCutoff` dict the apply stage is built from, exactly what `top_fraction_cutoff` finds in one
process. The partials live in the output's state root (`partials/<name>-h<level>/`, `-bucket/`),
committed per shard, so a rerun over unchanged data merges without reading a row.
"""

from __future__ import annotations

from agiqa.runner.job import Pass, Reduce
from agiqa.selection import CutoffSearch
from agiqa.stages.cutoff import BucketStage, HistogramStage, RankedRows, merged_histogram

#: Histograms of 16 bits each cover the 64-bit key.
MAX_LEVELS = 4
PARTIALS_DIR = "partials"


def cutoff_steps(name: str, input_root: str, output_root: str, search: CutoffSearch,
                 rows: RankedRows | None = None, resources=None) -> list:
    """The steps computing `search`'s cutoff over the shards under `input_root`; the partials go in
    `output_root`'s state root. The last step's result (`results[name]`) is the `RankCutoff` dict."""
    from agiqa.storage.layout import state_uri

    rows = rows or RankedRows()
    where = lambda step: state_uri(output_root, f"{PARTIALS_DIR}/{name}-{step}")  # noqa: E731
    state_key = lambda level: f"{name}-h{level}"  # noqa: E731
    steps: list = []

    def before(level: int, results: dict) -> CutoffSearch:
        return search if level == 1 else CutoffSearch.from_dict(results[state_key(level - 1)])

    for level in range(1, MAX_LEVELS + 1):
        out = where(f"h{level}")

        def stage(results, level=level):
            s = before(level, results)
            return HistogramStage(s, rows, resources) if s.needs_histogram else None

        def merge(ctx, level=level, out=out):
            s = before(level, ctx.results)
            if not s.needs_histogram:
                return s.to_dict()
            hist = merged_histogram(ctx.partials(input_root, out, HistogramStage(s, rows).identity()))
            return s.after_histogram(hist).to_dict()

        steps += [Pass(stage, input_root, out), Reduce(state_key(level), merge, internal=True)]
    bucket_out = where("bucket")

    def bucket_stage(results):
        s = CutoffSearch.from_dict(results[state_key(MAX_LEVELS)])
        return BucketStage(s, rows, resources) if s.needs_bucket else None

    def result(ctx):
        from agiqa.selection.cutoff import concat_buckets

        s = CutoffSearch.from_dict(ctx.results[state_key(MAX_LEVELS)])
        if not s.needs_bucket:
            return s.result().to_dict()
        parts = list(ctx.partials(input_root, bucket_out, BucketStage(s, rows).identity()))
        return s.result(concat_buckets(parts)).to_dict()

    return steps + [Pass(bucket_stage, input_root, bucket_out), Reduce(name, result)]
