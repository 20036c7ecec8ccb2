"""`agiqa make-demo-data DIR`: procedural image-prompt shards whose true MOS is known."""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("dir", help="Folder to write part-NNNNN.parquet shards to.")
    p.add_argument("--rows", type=int, default=48)
    p.add_argument("--shards", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=96, help="Image side in pixels.")


def run(args) -> int:
    from agiqa.data.learnability import write_shards

    paths = write_shards(args.dir, args.rows, args.shards, args.seed, args.size)
    print(f"wrote {args.rows} rows in {len(paths)} shards to {args.dir}")
    return 0
