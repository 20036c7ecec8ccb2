"""`agiqa audit`: a report on scored outputs, grouped by a column, optionally against another run.

    agiqa audit --input scored/ --output report/ --group-by generator [--compare scored-last-week/]

Writes report/report.html (self-contained: open it anywhere, offline), report/figures/*.png,
report/audit.json and report/groups.csv (and compare.csv with --compare). The per-shard statistics
are a partial pass committed under report.agiqa/partials/ (`--runner local` or `ray`): a rerun over
unchanged shards reads no row.
"""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("--config", help="YAML audit config (fields: agiqa/config/audit_job.py); flags override it.")
    p.add_argument("--input", help="Scored shards: folder or s3://bucket/prefix.")
    p.add_argument("--output", help="Report folder (local or s3://).")
    p.add_argument("--group-by", help="Comma-separated columns to group by (e.g. generator or generator,model_version).")
    p.add_argument("--aspects", help="Comma-separated aspects (default: every <aspect>_score column).")
    p.add_argument("--compare", metavar="OTHER", help="Another scored output root (the baseline) to compare with.")
    p.add_argument("--images", help="The original shards, for thumbnails when the scored rows hold no image.")
    p.add_argument("--examples", type=int, help="Worst and best rows shown per group and aspect (default 4).")
    p.add_argument("--title", help="The report's title.")
    p.add_argument("--id-column", help="Row id column (default id).")
    p.add_argument("--runner", choices=["local", "ray"], help="Where the per-shard statistics run: local (default, "
                   "this process) or ray. Either way they are committed per shard and a rerun reuses them.")
    p.add_argument("--address", help="Ray cluster address (with --runner ray; default RAY_ADDRESS, else a local Ray).")
    p.add_argument("--no-progress", action="store_true", help="No progress log lines.")


def load_job_config(args):
    from agiqa.commands.score import _given
    from agiqa.config.audit_job import load_audit_config
    from agiqa.config.base import read_yaml
    from agiqa.schema import config_errors

    def split(s):
        return [x.strip() for x in s.split(",") if x.strip()] if s else None

    flags = _given({"input": args.input, "output": args.output, "group_by": split(args.group_by),
                    "aspects": split(args.aspects), "compare": args.compare, "images": args.images,
                    "examples": args.examples, "title": args.title, "id_column": args.id_column,
                    "progress": False if args.no_progress else None,
                    "runner": {"kind": args.runner, "address": args.address}})
    with config_errors():
        return load_audit_config(None, {**read_yaml(args.config), **flags})


def run(args) -> int:
    import logging

    from agiqa.api import audit
    from agiqa.workflows.audit import summary_line

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    logging.getLogger("PIL").setLevel(logging.WARNING)
    print(summary_line(audit(load_job_config(args))), flush=True)
    return 0
