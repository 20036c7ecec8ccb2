"""The filter job: map (an optional score pass) -> reduce (one exact cutoff per top-fraction rule) ->
apply (`FilterStage`: keep/, drop/, rows/) -> reduce (per-shard and global stats into stats.json, in the
output's state root `OUTPUT.agiqa/`, beside it: the output holds only rows).

Setups are checked before any work: every rule's column must exist in the scored rows (or be one
the score pass will write) and be numeric; `write_rows` needs the image bytes from somewhere; a rule
on a column that mixes two methods' scores (a cascade's, `<column>_source`) needs the source to judge
(`agiqa.filtering.sources`): the source column is read from every shard (one small column), or, when
the job scores first, the mix is known from the score config (a prefilter scoring that aspect).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from agiqa.config.filter_job import FilterJobConfig
from agiqa.errors import ConfigError, DataError
from agiqa.filtering.rules import KeepRule, Rule, TopFractionRule, parse_rules
from agiqa.filtering.sources import check_sources, other_source_mask
from agiqa.runner.job import Pass, Reduce, ShardJob
from agiqa.score_source import prefilter_source, source_column
from agiqa.storage.parquet import read_table  # not pq.read_table: see the module

STATS_NAME = "stats.json"


@dataclass
class FilterSetup:
    """What the scored rows hold, read from one shard's schema (or from the score pass's fields)."""

    columns: dict  # name -> pyarrow type
    status_column: str | None
    image_in_input: bool
    sources: dict = field(default_factory=dict)  # column -> the one source judged on it (checked)
    #: column -> the `ScoreSpec` it was written with (field metadata; absent for columns agiqa did not score)
    specs: dict = field(default_factory=dict)

    def higher_is_better(self, column: str) -> bool:
        """Which way a top-fraction rule on `column` ranks: the scoring method's `ScoreSpec` says (for a
        column mixing two methods, the chosen source's, read off `prefilter_<column>`); else higher."""
        from agiqa.score_source import PREFILTER_PREFIX

        spec = self.specs.get(column)
        if self.sources.get(column, "").startswith(PREFILTER_PREFIX):
            spec = self.specs.get(f"prefilter_{column}", spec)
        return True if spec is None else spec.higher_is_better


def first_schema(root: str, storage):
    """The Arrow schema of the first shard under `root` (DataError when there is none)."""
    import pyarrow.parquet as pq

    from agiqa.storage import open_store
    from agiqa.storage.layout import committed_shards

    store = open_store(root, storage)
    shards = committed_shards(store, root)
    if not shards:
        raise DataError(f"no *.parquet shards under {root}")
    with store.open_read(shards[0].uri) as f:
        return pq.ParquetFile(f).schema_arrow


def source_counts(root: str, storage, columns: list[str]) -> dict[str, Counter]:
    """Column -> rows per source (`<column>_source`, nulls left out) over every shard under `root`."""
    import pyarrow.compute as pc

    from agiqa.storage import open_store
    from agiqa.storage.layout import committed_shards

    store = open_store(root, storage)
    out: dict[str, Counter] = {c: Counter() for c in columns}
    for shard in committed_shards(store, root):  # the shards the filter reads, never a state root's
        with store.open_read(shard.uri) as f:
            t = read_table(f, columns=[source_column(c) for c in columns])
        for c in columns:
            for item in pc.value_counts(t.column(source_column(c))).to_pylist():
                if item["values"] is not None:
                    out[c][item["values"]] += item["counts"]
    return out


def _planned_sources(score_cfg, columns: list[str]) -> dict[str, Counter]:
    """What a cascade score job will write per column: both methods where its prefilter scores the aspect."""
    out = {}
    for c in columns:
        seen = Counter({score_cfg.method.name: 0})
        p = score_cfg.prefilter
        if p is not None and c.endswith("_score") and c[: -len("_score")] in p.scored_aspects:
            seen[prefilter_source(p.method.name)] = 0
        out[c] = seen
    return out


def check_setup(cfg: FilterJobConfig, rules: list[Rule], score_job: ShardJob | None = None) -> FilterSetup:
    """Refuse, in one line before any work, rules on missing or non-numeric columns, rules on a column
    mixing methods without a chosen source, and a `write_rows` without image bytes."""
    import pyarrow as pa

    if cfg.score is not None:
        from agiqa.workflows.score import build_score_job

        stage = (score_job or build_score_job(cfg.score)).passes[0].stage
        images = first_schema(cfg.score.input, cfg.storage)
        fields = [f for f in images if f.name not in stage.drop_columns] + list(stage.output_fields())
        columns = {f.name: f.type for f in fields}
        if cfg.score.prefilter is not None:  # passes[0] is the cheap pass: the cascade's columns come last
            for a in cfg.score.aspects:
                columns.update({f"{a}_score": pa.float32(), source_column(f"{a}_score"): pa.string()})
        where = f"the rows the score job writes (method {cfg.score.method.name}, aspects {cfg.score.aspects})"
    else:
        fields = list(first_schema(cfg.input, cfg.storage))
        columns = {f.name: f.type for f in fields}
        where = f"the scored shards under {cfg.input}"
    for name in dict.fromkeys([cfg.id_column] + [r.column for r in rules]):
        if name not in columns:
            raise ConfigError(f"column {name!r} is not in {where}; columns: {', '.join(columns)}")
    for r in rules:
        t = columns[r.column]
        if not (pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t)):
            raise ConfigError(f"rule {r.text!r}: column {r.column!r} is {t}, not a number")
    judged = [r.column for r in rules] + list(cfg.sources)
    with_source = [c for c in dict.fromkeys(judged) if source_column(c) in columns]
    if with_source:
        counts = (_planned_sources(cfg.score, with_source) if cfg.score is not None
                  else source_counts(cfg.input, cfg.storage, with_source))
        check_sources([r.column for r in rules], counts, cfg.sources, where)
    elif cfg.sources:
        check_sources([], {}, cfg.sources, where)
    image_in_input = cfg.image_column in columns
    if cfg.write_rows and not image_in_input:
        if cfg.images is None:
            raise ConfigError(f"write_rows: the scored rows have no {cfg.image_column!r} column; give the original "
                              "shards with --images")
        first_schema(cfg.images, cfg.storage)
    from agiqa.aspects import spec_of_field

    specs = {f.name: spec for f in fields if (spec := spec_of_field(f)) is not None}
    return FilterSetup(columns, cfg.status_column if cfg.status_column in columns else None, image_in_input,
                       dict(cfg.sources), specs)


def _cutoff_step(cfg: FilterJobConfig, rule: TopFractionRule, status: str | None, name: str,
                 descending: bool = True) -> Reduce:
    source = cfg.sources.get(rule.column)

    def fn(ctx) -> dict:
        import pyarrow as pa
        import pyarrow.compute as pc

        from agiqa.selection import top_fraction_cutoff

        cols = list(dict.fromkeys([rule.column, cfg.id_column] + ([status] if status else [])
                                  + ([source_column(rule.column)] if source else [])))

        def scan():
            for t in ctx.scan(cfg.input, cols):
                if status:  # rows the scorer failed on are not part of the population ranked
                    t = t.filter(pc.invert(pc.fill_null(pc.equal(t.column(status), "error"), False)))
                if source:  # a mixed column: only the chosen method's rows are ranked
                    t = t.filter(pa.array(~other_source_mask(t, rule.column, source)))
                yield t

        return top_fraction_cutoff(scan, rule.column, cfg.id_column, rule.fraction, descending=descending,
                                   max_rows_in_memory=cfg.cutoff_rows_in_memory).to_dict()

    return Reduce(name, fn)


class FilterPlan:
    """The rules, the names of their reduce steps, and how the apply stage is built from the results."""

    def __init__(self, cfg: FilterJobConfig, setup: FilterSetup):
        from agiqa.resources import Resources

        self.cfg, self.setup = cfg, setup
        self.rules = parse_rules(cfg.rules)
        self.cutoff_names = {r.text: f"cutoff{i}-{r.column}" for i, r in enumerate(self.rules)
                             if isinstance(r, TopFractionRule)}
        r = cfg.resources.get("filter")
        self.resources = Resources(num_cpus=1.0).override(**({} if r is None else r.model_dump(exclude_none=True)))
        self.manifest_drop = tuple(c for c in setup.columns if c.endswith("_description"))

    def cutoffs(self, results: dict) -> dict:
        from agiqa.selection import RankCutoff

        return {text: RankCutoff.from_dict(results[name]) for text, name in self.cutoff_names.items()}

    def stage(self, results: dict):
        from agiqa.stages.filter import FilterStage

        return FilterStage(self.rules, self.cutoffs(results), id_column=self.cfg.id_column,
                           status_column=self.setup.status_column, image_column=self.cfg.image_column,
                           image_from_side=not self.setup.image_in_input, write_rows=self.cfg.write_rows,
                           manifest_drop=self.manifest_drop, resources=self.resources,
                           sources=self.setup.sources)

    def thresholds(self, results: dict) -> dict:
        out = {}
        for r in self.rules:
            if isinstance(r, KeepRule):
                out[r.text] = {"column": r.column, "op": r.op, "value": r.value}
            else:
                out[r.text] = results[self.cutoff_names[r.text]]
        return out

    def cutoff_passes(self) -> list:
        """Per top-fraction rule, the cutoff as partial passes and merges (`workflows.cutoff_steps`):
        the counting spread over the runner's actors, resumable, exactly the driver-side result."""
        from agiqa.selection import CutoffSearch
        from agiqa.stages.cutoff import RankedRows
        from agiqa.workflows.cutoff_steps import cutoff_steps

        steps: list = []
        for r in self.rules:
            if not isinstance(r, TopFractionRule):
                continue
            source = self.cfg.sources.get(r.column)
            rows = RankedRows(self.setup.status_column, source_column(r.column) if source else None, source)
            search = CutoffSearch(r.column, self.cfg.id_column, r.fraction, self.setup.higher_is_better(r.column),
                                  max_rows_in_memory=self.cfg.cutoff_rows_in_memory)
            steps += cutoff_steps(self.cutoff_names[r.text], self.cfg.input, self.cfg.output, search, rows,
                                  self.resources)
        return steps

    def cutoff_steps(self) -> list[Reduce]:
        """Per top-fraction rule, the cutoff as one reduce on this process (the dry run: nothing written)."""
        return [_cutoff_step(self.cfg, r, self.setup.status_column, self.cutoff_names[r.text],
                             self.setup.higher_is_better(r.column))
                for r in self.rules if isinstance(r, TopFractionRule)]


def _stats_step(plan: FilterPlan) -> Reduce:
    """Per-shard and global counts (rows in, kept, dropped per reason) from the committed shards' manifests
    only (the filter stage counts reasons into them: `counted_columns`), never reading a row."""
    cfg = plan.cfg

    def fn(ctx) -> dict:

        from agiqa.runner.manifest import identity_hash, read_manifest
        from agiqa.storage.base import ShardInfo
        from agiqa.storage.layout import state_uri
        from agiqa.storage.uri import join

        want = identity_hash(plan.stage(ctx.results).identity())
        out_store = ctx.store(cfg.output)

        def one(rel: str):
            m = read_manifest(out_store, cfg.output, ShardInfo(join(cfg.input, rel), rel, 0, ""))
            if m is None or m.get("identity_hash") != want:
                return rel, None
            reasons = (m.get("counts") or {}).get("reason")
            if reasons is None:  # committed by an agiqa before manifests counted reasons: read the drops
                with out_store.open_read(join(join(cfg.output, "drop"), rel)) as f:
                    reasons = Counter(read_table(f, columns=["reason"]).column("reason").to_pylist())
            by = m.get("rows_by_status", {})
            return rel, {"rows_in": m.get("rows_in", 0), "kept": by.get("kept", 0), "dropped": by.get("dropped", 0),
                         "dropped_by_reason": dict(sorted(reasons.items()))}

        with ThreadPoolExecutor(max_workers=16, thread_name_prefix="agiqa-stats") as pool:
            done = list(pool.map(one, ctx.shard_names(cfg.input)))
        shards = {rel: s for rel, s in done if s is not None}
        total: Counter = Counter()
        reasons: Counter = Counter()
        for s in shards.values():
            total.update({k: s[k] for k in ("rows_in", "kept", "dropped")})
            reasons.update(s["dropped_by_reason"])
        glob = {"rules": [r.text for r in plan.rules], "thresholds": plan.thresholds(ctx.results),
                "rows_in": total["rows_in"], "kept": total["kept"], "dropped": total["dropped"],
                "dropped_by_reason": dict(sorted(reasons.items())), "shards": len(shards),
                "shards_not_committed": sorted(rel for rel, s in done if s is None)}
        out_store.write_json(state_uri(cfg.output, STATS_NAME), {**glob, "per_shard": shards})
        return glob

    return Reduce("stats", fn)


def build_filter_job(cfg: FilterJobConfig, **job_options) -> ShardJob:
    """The runner's job for `cfg`; the setup is checked here, before anything runs.

    With a score job on the way (`filter --score`), the whole job runs on the filter's own runner
    (`runner:`, `--runner`, `--rank`): a score YAML's `runner:` is not used (a warning says so when it
    differs). Each pass reads batches of its own job's `read_batch_rows`."""
    from dataclasses import replace

    if cfg.runner.kind != "local":
        from agiqa.extras import require

        require("score", ("ray",), "filtering on Ray (or --runner local)")
    rules = parse_rules(cfg.rules)
    score_job = None
    if cfg.score is not None:
        from agiqa.workflows.score import build_score_job

        score_job = build_score_job(cfg.score)  # once: its checks and URL peeks are not repeated
        if cfg.score.runner.settings() != cfg.runner.settings():
            import logging

            logging.getLogger(__name__).warning(
                "filter --score: the job runs on the filter's runner (%s); the score config's runner: (%s) is not "
                "used", cfg.runner.kind, cfg.score.runner.kind)
    setup = check_setup(cfg, rules, score_job)
    plan = FilterPlan(cfg, setup)
    steps: list = []
    if score_job is not None:
        steps += [replace(p, read_batch_rows=cfg.score.read_batch_rows) if isinstance(p, Pass) else p
                  for p in score_job.passes]
    steps += plan.cutoff_passes()
    side = cfg.images if cfg.write_rows and not setup.image_in_input else None
    steps.append(Pass(plan.stage, cfg.input, cfg.output, side_input=side))
    steps.append(_stats_step(plan))
    if cfg.score is None:  # a score job checks its own output
        from agiqa.workflows.ids import duplicate_ids_step

        steps.append(duplicate_ids_step(cfg.input, cfg.id_column))
    return ShardJob(passes=steps, storage=cfg.storage, runner=cfg.runner.settings(), read_batch_rows=cfg.read_batch_rows,
                    overwrite=cfg.overwrite, progress=cfg.progress, **job_options)


def dry_run(cfg: FilterJobConfig, **job_options) -> dict:
    """What the rules would do, from the reduce steps and one scan, writing nothing: per rule the rows
    it keeps on its own, the thresholds, and the drops per reason the real run would record."""
    from agiqa.filtering.decide import decide
    from agiqa.filtering.rules import OPS
    from agiqa.runner.reduce import ReduceContext

    if cfg.score is not None:
        raise ConfigError("--dry-run reads existing scores; run it on scored shards, without a score job")
    rules = parse_rules(cfg.rules)
    setup = check_setup(cfg, rules)
    plan = FilterPlan(cfg, setup)
    job = ShardJob(passes=[Pass(plan.stage, cfg.input, cfg.output)], storage=cfg.storage, runner="local",
                   **job_options)
    results: dict = {}
    for step in plan.cutoff_steps():
        results[step.name] = step.fn(ReduceContext(job, dict(results)))
    cutoffs = plan.cutoffs(results)
    status = setup.status_column
    cols = list(dict.fromkeys([cfg.id_column] + [r.column for r in rules] + ([status] if status else [])
                              + [source_column(c) for c in setup.sources]))
    rows = errors = 0
    alone: Counter = Counter()
    reasons: Counter = Counter()
    import numpy as np

    from agiqa.selection.keys import numeric_values

    for t in ReduceContext(job).scan(cfg.input, cols):
        rows += t.num_rows
        st, why = decide(t, rules, cutoffs, cfg.id_column, status, setup.sources)
        reasons.update(x for x in why.to_pylist() if x is not None)
        ok = np.ones(t.num_rows, dtype=bool)
        if status:
            ok = np.asarray(t.column(status).to_numpy(zero_copy_only=False) != "error")
            errors += int((~ok).sum())
        for r in rules:
            vals, valid = numeric_values(t.column(r.column), r.column)
            if r.column in setup.sources:  # judged on the chosen source's rows only
                valid = valid & ~other_source_mask(t, r.column, setup.sources[r.column])
            if isinstance(r, KeepRule):
                with np.errstate(invalid="ignore"):
                    passed = OPS[r.op](vals, r.value)
            else:
                passed = cutoffs[r.text].keeps(t.column(r.column), t.column(cfg.id_column))
            alone[r.text] += int((ok & valid & passed).sum())
    dropped = sum(reasons.values())
    return {"rows": rows, "rows_error": errors, "rules": [
        {"rule": r.text, "keeps_alone": alone[r.text], "drops_first": reasons.get(r.text, 0)} for r in rules],
        "thresholds": plan.thresholds(results), "kept": rows - dropped, "dropped": dropped,
        "dropped_by_reason": dict(sorted(reasons.items()))}
