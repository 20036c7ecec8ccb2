"""The end of a job on every runner: the summary written, and an agiqa 0.1 state folder retired.

agiqa 0.1 kept its state inside the output (`<output>/_agiqa/`), where dataset readers read it
as data. Planning already moved the manifests of committed shards into the state root; once a
job over that output finished with nothing failed, the old folder holds nothing still needed
(the new manifests, summaries and a cascade's prefilter pass are in `<output>.agiqa/`), so it is
removed, and the log says so. After a failure it stays, for the next run to finish the move.
"""

from __future__ import annotations

import logging

from agiqa.runner.job import Pass, ShardJob
from agiqa.runner.summary import JobSummary

log = logging.getLogger(__name__)


def finish_job(job: ShardJob, summary: JobSummary) -> str:
    """Write the summary (returns where); retire `_agiqa/` folders inside the job's outputs."""
    from agiqa.storage.base import StorageError

    store = job.open_store(job.output, job.storage)
    try:
        if job.world_size > 1:  # many drivers: this rank's, merged once all are there (`runner.rank_summary`)
            from agiqa.runner.rank_summary import write_rank_summary

            uri = write_rank_summary(store, job, summary)
        else:
            uri = summary.write(store, job.output)
    except (StorageError, OSError) as e:  # e.g. the disk filled up: the job's result is still told
        summary.write_error = str(e)
        log.error("the job summary could not be written: %s", e)
        return ""
    if not summary.failed:
        for out in dict.fromkeys(p.output for p in job.passes if isinstance(p, Pass)):
            if n := remove_legacy_state(job.open_store(out, job.storage), out):
                log.warning("removed %d file(s) of agiqa 0.1's state folder %s (its state is now beside the "
                            "output, in %s)", n, _legacy(out), _state(out))
    return uri


def remove_legacy_state(store, output: str) -> int:
    """Delete every file under `<output>/_agiqa/`; returns how many there were."""
    from agiqa.storage.base import StorageError

    root = _legacy(output)
    try:
        files = store.list_files(root, None, **({"skip_hidden": False} if _local(output) else {}))
    except (StorageError, FileNotFoundError):
        return 0
    for f in files:
        store.delete(f.uri)
    if _local(output):
        import shutil

        shutil.rmtree(root, ignore_errors=True)  # the empty folders left
    return len(files)


def _legacy(output: str) -> str:
    from agiqa.storage.layout import LEGACY_STATE_DIR
    from agiqa.storage.uri import join

    return join(output, LEGACY_STATE_DIR)


def _state(output: str) -> str:
    from agiqa.storage.layout import state_root

    return state_root(output)


def _local(output: str) -> bool:
    from agiqa.storage.uri import is_s3

    return not is_s3(output)
