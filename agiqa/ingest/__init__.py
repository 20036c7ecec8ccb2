"""`agiqa ingest`: users' image collections into agiqa's input layout (Parquet shards of id, image bytes,
prompt and any other columns), streaming, sharded and resumable, local or S3 on both sides.

    config.py     what to ingest and how (validated before any work)
    plan.py       which format an input is; its planner makes the output shards (shards.py)
    formats.py    the columns a table names, and the output schema
    folder.py     a folder tree of images + a CSV/JSONL/Parquet table (or `.txt` sidecars) of prompts
    tars.py       WebDataset tars, img2dataset's layout included (`NNNNN.tar` + `NNNNN.parquet`)
    tables.py     Parquet whose image column is bytes, a `{bytes, path}` struct (Hugging Face) or paths
    check.py      is an image decodable (the reason when not)
    worklist.py   one small Parquet work list per output shard (where each row's image is, its columns)
    job.py        the planning step that writes the work lists, and the report after the runner's pass
    report.py     what was skipped and why, for the whole input

The job (`agiqa.workflows.ingest`) is plan -> a runner pass of `agiqa.stages.ingest.IngestStage`
over the work lists (Ray or local, exactly once, resumable) -> the duplicate-ids reduce.

Imports no torch, Ray or model code: it runs in the light install (`pip install agiqa`; Ray only
for `--runner ray`).
"""
