"""`agiqa ingest`: turn a folder of images + a table, WebDataset/img2dataset tars, or Hugging Face
Parquet into agiqa's input layout; resumable, and a report of what was skipped and why.

Exit 0 when every output shard was written (skipped items are reported, not failures), 1 when a
shard failed or ids repeat across shards, 2 on a bad setup (refused before any work).
"""

from __future__ import annotations


def add_arguments(p) -> None:
    from agiqa.ingest.config import FORMATS

    p.add_argument("--input", required=True, help="Folder or s3://bucket/prefix to ingest.")
    p.add_argument("--output", required=True, help="Output root for agiqa-layout shards (outside the input).")
    p.add_argument("--format", choices=FORMATS, help="Input format (default auto).")
    p.add_argument("--table", help="folder: CSV/JSONL/Parquet of file name -> prompt (+ columns); default: "
                                   "metadata.csv|jsonl|parquet at the top of the input, else <name>.txt sidecars.")
    p.add_argument("--file-column", help="Table column naming each image (default file_name, file, ...).")
    p.add_argument("--prompt-column", help="Column holding the prompt (default prompt, caption, text).")
    p.add_argument("--id-column", help="Column with unique row ids (default: relative path / tar key / shard#row).")
    p.add_argument("--image-column", help="parquet: the image column (default image, else the {bytes,path} struct).")
    p.add_argument("--rows-per-shard", type=int, help="folder: rows per output shard (default 1000).")
    p.add_argument("--verify", choices=["decode", "header"], help="Check images by full decode (default) or header.")
    p.add_argument("--workers", type=int, help="Images read and checked at once: threads (local) or Ray "
                                               "actors (default 4).")
    p.add_argument("--runner", choices=["local", "ray"], help="local (default: this process) or ray (actors; "
                                                               "RAY_ADDRESS or --address, else a local Ray).")
    p.add_argument("--address", help="ray: the cluster's address (default RAY_ADDRESS).")
    p.add_argument("--overwrite", action="store_true", default=None, help="Redo committed output shards.")
    p.add_argument("--follow-symlinks", action="store_true", default=None,
                   help="Ingest symlinks to files outside the input (default: refused, reported per file).")


def run(args) -> int:
    import logging
    import sys

    from agiqa.api import ingest
    from agiqa.storage.names import shown

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    given = {k: v for k, v in {
        "input": args.input, "output": args.output, "format": args.format, "table": args.table,
        "file_column": args.file_column, "prompt_column": args.prompt_column, "id_column": args.id_column,
        "image_column": args.image_column, "rows_per_shard": args.rows_per_shard, "verify": args.verify,
        "workers": args.workers, "runner": args.runner, "address": args.address, "overwrite": args.overwrite, "follow_symlinks": args.follow_symlinks}.items() if v is not None}
    summary = ingest(given)
    for rel, why in summary.shards_failed.items():
        print(f"agiqa ingest: shard {shown(rel)} failed: {shown(why)}", file=sys.stderr)
    if summary.duplicate_id_count:
        print(f"agiqa ingest: ids repeat across shards ({', '.join(map(repr, summary.duplicate_ids[:5]))}); "
              "give --id-column, or ingest shards whose keys are unique", file=sys.stderr)
    print(summary.line(), flush=True)
    return 0 if summary.ok else 1
