"""`agiqa ingest` as a runner job: plan work lists -> `IngestStage` pass -> duplicate ids.

Ingest's planning (`agiqa.ingest.job.Planner`) runs as the job's first step, on the driver and
under the output's lease; the pass is an ordinary runner pass from the work lists to the output,
so ingest shares scoring's exactly-once machinery (manifests, attempts, resume, the lease, Ray or
local); the duplicate-ids reduce reads the committed outputs' ids in bounded memory. The ingest
report is made from the runner's summary afterwards (`agiqa.ingest.job.build_report`).
"""

from __future__ import annotations

import time

from agiqa.ingest.config import IngestConfig
from agiqa.ingest.report import IngestSummary


def build_ingest_job(cfg: IngestConfig, open_store=None):
    """(the `ShardJob`, its planner, its stage)."""
    from agiqa.ingest.job import Planner, worklist_root
    from agiqa.runner.job import Pass, Reduce, ShardJob
    from agiqa.stages.ingest import IngestStage
    from agiqa.workflows.ids import duplicate_ids_step

    opener = open_store or _open_store
    planner = Planner(cfg, opener)
    stage = IngestStage(cfg.output, limits=cfg.images, verify=cfg.verify, storage=cfg.storage,
                        actors=cfg.workers if cfg.runner == "ray" else 1, open_store=open_store)
    steps = [Reduce("ingest_plan", planner), Pass(stage, worklist_root(cfg.output), cfg.output),
             duplicate_ids_step(cfg.output, "id", shards=planner.committed_rels)]
    from agiqa.runner.job import RunSettings

    job = ShardJob(passes=steps, storage=cfg.storage, overwrite=cfg.overwrite, progress=False,
                   runner=RunSettings(kind=cfg.runner, address=cfg.address, max_shard_attempts=cfg.max_shard_attempts,
                                      prepare_workers=cfg.workers if cfg.runner == "local" else 1),
                   **({"open_store": open_store} if open_store else {}))
    return job, planner, stage


def run_ingest(cfg: IngestConfig, open_store=None) -> IngestSummary:
    """Ingest `cfg.input` into `cfg.output`; returns the summary (also written as the report)."""
    from agiqa.extras import require
    from agiqa.ingest.job import build_report
    from agiqa.runner.manifest import identity_hash
    from agiqa.runner.run import run_job
    from agiqa.storage import check_access

    t0 = time.perf_counter()
    check_access(cfg.input, cfg.output, cfg.storage)  # the user's roots, before the lease
    if cfg.runner == "ray":
        require("score", ("ray",), "ingest on Ray")
    job, planner, stage = build_ingest_job(cfg, open_store)
    summary = run_job(job)
    return build_report(cfg, planner, summary, identity_hash(stage.identity()), open_store or _open_store,
                        time.perf_counter() - t0)


def _open_store(uri: str, storage_cfg):
    from agiqa.storage import open_store

    return open_store(uri, storage_cfg)
