"""The audit job: check the columns, then run the statistics as runner passes (`workflows.audit_steps`:
one partial table per scored shard, on Ray actors or in this process, resumed; merged by a reduce
reading only those tables), fetch thumbnails for the shown rows only, then write the report:
`report.html` (self-contained), `figures/*.png`, `audit.json`, `groups.csv` (and `compare.csv`).

Memory is bounded by the number of groups, not rows. Errors about columns come before any shard is
read or anything is written.
"""

from __future__ import annotations

import json
import logging
import time

from agiqa.audit.collect import AuditSpec, Collected, thumbnails
from agiqa.audit.csv_cells import csv_bytes
from agiqa.audit.numbers import CSV_FIELDS, audit_numbers, compare_numbers, csv_rows
from agiqa.config.audit_job import AuditJobConfig
from agiqa.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def _shards(store, root: str, refused: list[dict]) -> list:
    """A job's committed shards (through its manifests), or every shard of a plain folder; those with
    unsafe names (the one rule every job kind uses) are left out and added to `refused` with why, so
    the report never carries a name that forges a line."""
    from agiqa.storage.layout import committed_shards
    from agiqa.storage.names import shown, unsafe_name

    listed = committed_shards(store, root)
    for s in listed:
        if why := unsafe_name(s.rel):
            log.warning("audit: shard %s refused: %s", shown(s.rel), why)
            refused.append({"shard": s.uri, "reason": f"refused: {why}"})
    shards = [s for s in listed if not unsafe_name(s.rel)]
    if not shards:
        raise DataError(f"no *.parquet shards under {root}" + (f" ({len(refused)} refused)" if refused else ""))
    return shards


def _schema(store, shard):
    import pyarrow.parquet as pq

    with store.open_read(shard.uri) as f:
        return pq.ParquetFile(f).schema_arrow


def _spec(cfg: AuditJobConfig, names: list[str], root: str) -> AuditSpec:
    missing = [c for c in cfg.group_by if c not in names]
    if missing:
        raise ConfigError(f"unknown group-by column(s) {', '.join(missing)} in {root}; columns: {', '.join(names)}")
    if cfg.id_column not in names:
        raise ConfigError(f"id column {cfg.id_column!r} is not in {root}; columns: {', '.join(names)}")
    found = [c[: -len("_score")] for c in names if c.endswith("_score")]
    aspects = list(cfg.aspects) if cfg.aspects else found
    if not aspects:
        raise ConfigError(f"no <aspect>_score column in {root}: is it a scored output? columns: {', '.join(names)}")
    if absent := [a for a in aspects if f"{a}_score" not in names]:
        raise ConfigError(f"column(s) {', '.join(a + '_score' for a in absent)} not in {root}; "
                          f"scored aspects there: {', '.join(found) or 'none'}")
    return AuditSpec(group_by=list(cfg.group_by), aspects=aspects, id_column=cfg.id_column,
                     prompt_column=cfg.prompt_column, status_column=cfg.status_column,
                     reason_column="error_code" if "error_code" in names else "error", examples=cfg.examples,
                     max_groups=cfg.max_groups)


def _write_bytes(store, uri: str, data: bytes) -> None:
    tmp = store.temp_path_for(uri)
    with open(tmp, "wb") as f:
        f.write(data)
    store.commit_file(tmp, uri)


def _job(cfg: AuditJobConfig, roots: list[tuple[str, str, list, list[str]]], spec: AuditSpec, merged: dict):
    """The runner's job: per (which, root, shards, columns) a partial pass and its merge; the input's last."""
    from agiqa.runner.job import ShardJob
    from agiqa.workflows.audit_steps import audit_steps

    steps = [audit_steps(which, root, shards, spec, columns, cfg.output, merged) for which, root, shards, columns in roots]
    r = cfg.runner
    return ShardJob(passes=[p for p, _ in steps] + [m for _, m in steps], storage=cfg.storage, runner=r.settings(),
                    progress=cfg.progress)


def run_audit(cfg: AuditJobConfig) -> dict:
    """Write the report for `cfg`; returns {numbers, compare, files, rows, seconds}."""
    from agiqa.storage import open_store
    from agiqa.storage.roots import check_separate
    from agiqa.storage.uri import join

    t0 = time.perf_counter()
    for root in filter(None, (cfg.input, cfg.compare, cfg.images)):
        check_separate(root, cfg.output, what="input" if root == cfg.input else "root read")
    if cfg.runner.kind == "ray":
        from agiqa.extras import require

        require("score", ("ray",), "auditing on Ray (or --runner local)")
    store = open_store(cfg.input, cfg.storage)
    refused: list[dict] = []
    shards = _shards(store, cfg.input, refused)
    names = _schema(store, shards[0]).names
    spec = _spec(cfg, names, cfg.input)
    roots = [("input", cfg.input, shards, spec.columns(names))]
    if cfg.compare:
        ostore = open_store(cfg.compare, cfg.storage)
        oshards = _shards(ostore, cfg.compare, refused)
        onames = _schema(ostore, oshards[0]).names
        _spec(cfg.model_copy(update={"aspects": spec.aspects}), onames, cfg.compare)
        roots.insert(0, ("compare", cfg.compare, oshards, spec.columns(onames)))
    from agiqa.audit.figures import _plt

    _plt()  # matplotlib missing: said before any shard is read
    from agiqa.runner.run import run_job

    merged: dict[str, Collected] = {}
    summary = run_job(_job(cfg, roots, spec, merged))
    collected, other = merged["input"], merged.get("compare")
    groups = None
    if other is not None:
        groups = sorted(set(collected.groups) | set(other.groups))
    numbers = audit_numbers(collected, spec.group_by or ["(none)"], spec.aspects, spec.examples, groups)
    comparison = None
    if other is not None:
        comparison = compare_numbers(numbers, audit_numbers(other, spec.group_by, spec.aspects, spec.examples, groups,
                                                            keys=numbers["aspects"]))
    wanted: dict[str, set[str]] = {}
    for gn in numbers["groups"].values():
        for an in gn["aspects"].values():
            for e in an["worst"] + an["best"]:
                wanted.setdefault(e["shard"], set()).add(e["id"])
    source = cfg.input if cfg.image_column in names else cfg.images
    thumbs, missing = {}, []
    if source:
        thumbs, missing = thumbnails(open_store(source, cfg.storage), source, wanted, cfg.id_column,
                                     cfg.image_column, storage_cfg=cfg.storage)
    elif wanted:
        missing = [f"the scored shards hold no {cfg.image_column!r} column (scoring drops image bytes): give "
                   "--images with the shards scoring read"]
    if missing and wanted:
        log.warning("audit: %d of the %d example images have no thumbnail: %s", sum(map(len, wanted.values()))
                    - len(thumbs), sum(map(len, wanted.values())), "; ".join(missing[:3]))
    from agiqa.audit.figures import figure_file, figures
    from agiqa.audit.html import render

    figs = figures(collected, numbers["aspects"], list(numbers["groups"]))
    html = render(numbers, figs, thumbs, cfg.title, comparison, cfg.compare)
    out = open_store(cfg.output, cfg.storage)
    files = {"report": join(cfg.output, "report.html"), "numbers": join(cfg.output, "audit.json"),
             "csv": join(cfg.output, "groups.csv")}
    _write_bytes(out, files["report"], html.encode())
    for name, png in figs.items():
        _write_bytes(out, join(cfg.output, f"figures/{figure_file(name)}.png"), png)
    out.write_json(files["numbers"], {**numbers, "compare": comparison, "input": cfg.input, "other": cfg.compare,
                                      "refused": refused})
    _write_bytes(out, files["csv"], csv_bytes(csv_rows(numbers), CSV_FIELDS))
    if comparison is not None:
        files["compare_csv"] = join(cfg.output, "compare.csv")
        _write_bytes(out, files["compare_csv"], csv_bytes(comparison, list(comparison[0]) if comparison else ["group"]))
    seconds = time.perf_counter() - t0
    return {"numbers": numbers, "compare": comparison, "files": files, "rows": numbers["rows"],
            "thumbnails": len(thumbs), "thumbnails_missing": missing, "seconds": seconds, "refused": refused,
            "passes": summary.passes, "failed": summary.failed}


def summary_line(result: dict) -> str:
    from agiqa.storage.names import shown

    flags = [r for r in result["compare"] or [] if r["flag"]]
    mixed = {a: s for a, s in result["numbers"].get("sources", {}).items() if len(s) > 1}
    split = ("; reported per source, never pooled: " + "; ".join(f"{a} ({', '.join(s)})" for a, s in mixed.items())
             if mixed else "")
    refused = result.get("refused") or []
    return (f"audit: {result['rows']} rows, {len(result['numbers']['groups'])} group(s){split}, "
            f"{result['thumbnails']} thumbnail(s)"
            + (f" (WARNING: {result['thumbnails_missing'][0]})" if not result["thumbnails"] and result.get(
                "thumbnails_missing") else "")
            + f", {result['seconds']:.1f} s -> {result['files']['report']}"
            + (f"; {len(flags)} flagged difference(s): " + json.dumps(
                [f"{r['group']} {r['aspect']} {r['flag']}" for r in flags]) if result["compare"] is not None else "")
            + (f"; {len(refused)} shard(s) refused: " + ", ".join(shown(r["shard"]) for r in refused[:5])
               + (", ..." if len(refused) > 5 else "") if refused else ""))
