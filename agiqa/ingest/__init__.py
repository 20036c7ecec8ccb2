"""`agiqa ingest`: users' image collections into agiqa's input layout (Parquet shards of id, image bytes,
prompt and any other columns), streaming, sharded and resumable, local or S3 on both sides.

    config.py     what to ingest and how (validated before any work)
    plan.py       which format an input is; its planner makes the output shards (shards.py)
    formats.py    the columns a table names, and the output schema
    folder.py     a folder tree of images + a CSV/JSONL/Parquet table (or `.txt` sidecars) of prompts
    tars.py       WebDataset tars, img2dataset's layout included (`NNNNN.tar` + `NNNNN.parquet`)
    tables.py     Parquet whose image column is bytes, a `{bytes, path}` struct (Hugging Face) or paths
    check.py      is an image decodable (the reason when not)
    job.py        plan output shards, skip committed ones, write each atomically with its manifest
    report.py     what was skipped and why, per shard and for the whole input

Imports no torch, Ray or model code: it runs in the light install (`pip install agiqa`).
"""
