"""`agiqa filter`: split scored shards into a keep set and a drop set (with reasons) by rules.

    agiqa filter --input scored/ --output selected/ --keep "quality_score >= 3" \
        --top-fraction correspondence_score=0.5 [--images data/ --write-rows] [--dry-run]

Rules combine with AND in the order given (`--keep` and `--top-fraction` interleave as written);
a dropped row's `reason` names the first rule it failed. `--score CONFIG.yaml` scores first, in
the same job (the score config's output becomes the filter's input). Flags override `--config`.
"""

from __future__ import annotations

import argparse


class _Rule(argparse.Action):
    """Appends `--keep` and `--top-fraction` to one list, in command-line order."""

    def __call__(self, parser, namespace, value, option_string=None):
        prefix = "top_fraction " if option_string == "--top-fraction" else ""
        rules = list(getattr(namespace, "rules", None) or [])
        namespace.rules = rules + [prefix + value]


def add_arguments(p) -> None:
    p.add_argument("--config", help="YAML filter config (fields: agiqa/config/filter_job.py); flags override it.")
    p.add_argument("--input", help="Scored shards: folder or s3://bucket/prefix (a score job's output).")
    p.add_argument("--output", help="Output root: keep/, drop/, rows/ (stats.json beside it, in OUTPUT.agiqa/).")
    p.add_argument("--images", help="The original shards (the ones scored), for --write-rows.")
    p.add_argument("--keep", action=_Rule, dest="rules", metavar="'COLUMN OP NUMBER'",
                   help="Keep rows where the comparison holds, e.g. 'quality_score >= 3' (repeatable).")
    p.add_argument("--top-fraction", action=_Rule, dest="rules", metavar="COLUMN=FRACTION",
                   help="Keep the best FRACTION of the whole dataset on COLUMN, e.g. quality_score=0.2; "
                        "ties broken by ascending id (repeatable).")
    p.add_argument("--source", action="append", metavar="COLUMN=SOURCE",
                   help="Judge COLUMN on the rows of one method only, e.g. quality_score=m3-agiqa: a cascade's "
                        "column mixes two methods' scales (see <column>_source); rules on it are refused "
                        "without this (repeatable).")
    p.add_argument("--write-rows", action="store_true", default=None,
                   help="Also write the kept rows with their images to OUTPUT/rows/.")
    p.add_argument("--score", metavar="SCORE_CONFIG.yaml",
                   help="Score first, in the same job, with this `agiqa score` config (its output: the scores).")
    p.add_argument("--dry-run", action="store_true", help="Print what each rule would keep; write nothing.")
    p.add_argument("--id-column", help="Row id column (default id).")
    p.add_argument("--image-column", help="Image bytes column (default image).")
    p.add_argument("--runner", choices=["ray", "ray-data", "local"],
                   help="ray (default: agiqa's actor pool), ray-data (a Ray Data actor pool) or local (one process).")
    p.add_argument("--address", help="Ray cluster address (default RAY_ADDRESS, else a local Ray).")
    p.add_argument("--overwrite", action="store_true", default=None, help="Redo already committed shards.")
    p.add_argument("--no-progress", action="store_true", help="No progress bar (log lines instead).")
    from agiqa.commands.ranks import add_rank_arguments

    add_rank_arguments(p)


def load_job_config(args):
    from agiqa.commands.ranks import rank_overrides
    from agiqa.commands.score import _given
    from agiqa.config.base import deep_merge, read_yaml
    from agiqa.config.filter_job import load_filter_config
    from agiqa.errors import ConfigError
    from agiqa.schema import config_errors

    data = read_yaml(args.config)
    flags = _given({
        "input": args.input, "output": args.output, "images": args.images, "write_rows": args.write_rows,
        "id_column": args.id_column, "image_column": args.image_column, "overwrite": args.overwrite,
        "progress": False if args.no_progress else None,
        "runner": {"kind": args.runner, "address": args.address, **rank_overrides(args)},
    })
    for item in args.source or []:
        column, sep, source = item.partition("=")
        if not sep or not column.strip() or not source.strip():
            raise ConfigError(f"--source {item!r} is not COLUMN=SOURCE, e.g. quality_score=m3-agiqa")
        flags.setdefault("sources", dict(data.get("sources") or {}))[column.strip()] = source.strip()
    if args.rules:
        flags["rules"] = list(data.get("rules") or []) + args.rules
    if args.score:
        flags["score"] = read_yaml(args.score)
    with config_errors():
        return load_filter_config(None, deep_merge(data, flags))


def format_dry_run(d: dict) -> str:
    lines = [f"dry run: {d['rows']} rows, {d['rows_error']} with status=error", "",
             f"  {'rule':44s} {'keeps alone':>12s} {'drops first':>12s}  threshold"]
    for r in d["rules"]:
        t = d["thresholds"][r["rule"]]
        thr = (f"{t['value']} (id {t['id']}, {t['keep']} of {t['total']})" if "keep" in t else f"{t['op']} {t['value']}")
        lines.append(f"  {r['rule']:44s} {r['keeps_alone']:12d} {r['drops_first']:12d}  {thr}")
    lines += ["", f"  all rules: {d['kept']} kept, {d['dropped']} dropped"]
    lines += [f"    {n:8d}  {why}" for why, n in d["dropped_by_reason"].items()]
    return "\n".join(lines)


def run(args) -> int:
    import json
    import logging

    from agiqa.api import filter as filter_
    from agiqa.api import filter_dry_run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = load_job_config(args)
    if args.dry_run:
        print(format_dry_run(filter_dry_run(cfg)), flush=True)
        return 0
    summary = filter_(cfg)
    print(summary.table(), flush=True)
    stats = summary.reduced.get("stats", {})
    print(f"kept {stats.get('kept', 0)} of {stats.get('rows_in', 0)} rows; dropped by reason: "
          f"{json.dumps(stats.get('dropped_by_reason', {}))}", flush=True)
    return 1 if summary.shards_failed else 0
