"""Shards, exactly once, for any stage: plan, run, commit, resume, retry. Knows stages, never models.

    stage.py      the contract a stage meets (what the runner calls), its outputs and resources
    job.py        a job: steps (passes: one stage over every shard; reduces: a global value between
                  passes) + storage + runner settings
    reduce.py     what a reduce step reads (committed shards, column batches) and where its result goes
    plan.py       listing, resume (identity + input etag), stores, access checks
    shard.py      one shard: stream batches, prepare/process overlapped, atomic outputs, manifest last
    manifest.py   what a committed shard records, and when it counts as done
    policy.py     attempts, failure classification and the summary, for every runner
    local.py      every pass in this process
    ray/          one actor pool per pass, sized from the stage's resources
    summary.py, progress.py
Importing this package imports no Ray and no model code.
"""
