"""`agiqa summary OUTPUT`: merge the summaries of a job run as N drivers into `job_summary.json`.

Each rank of `agiqa score|filter --rank R --world-size N` writes `job_summary.rank-R-of-N.json`
in the output's state root, and the last one to finish merges them; this merges them again on
demand (after a rank was rerun alone, or to check that all are done), refusing in one line (exit
2) while a rank's summary is missing or the ranks ran different jobs. See docs/ranks.md.
"""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("output", metavar="OUTPUT", help="The job's output root (folder or s3://...; required).")
    p.add_argument("--world-size", type=int, metavar="N",
                   help="Which split to merge when the state root holds rank summaries of several (default: the "
                        "only one there).")


def run(args) -> int:
    from dataclasses import fields

    from agiqa.api import merge_summaries
    from agiqa.runner.summary import SUMMARY_NAME, JobSummary
    from agiqa.storage.layout import state_uri

    merged = merge_summaries(args.output, args.world_size)
    names = {f.name for f in fields(JobSummary)}
    print(JobSummary(**{k: v for k, v in merged.items() if k in names}).table())
    print(f"merged the summaries of {merged['world_size']} ranks into {state_uri(args.output, SUMMARY_NAME)}",
          flush=True)
    return 1 if merged.get("shards_failed") else 0
