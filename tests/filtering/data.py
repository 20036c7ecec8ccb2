"""Scored shards with known scores, written directly (no model): ties, errors, nulls, uneven shards."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.parquet as pq

from tests.fixtures.shards import png

SIZES = {"a.parquet": 3, "b.parquet": 17, "sub/c.parquet": 1, "sub/d.parquet": 9, "e.parquet": 0}
GENERATORS = ["gen-a", "gen-b", "gen-c"]


def scored_rows(seed: int = 0) -> dict[str, list[dict]]:
    """Rows per shard: scores on a coarse grid (many ties), some status=error rows, some null scores."""
    rng = random.Random(seed)
    out, k = {}, 0
    for rel, n in SIZES.items():
        rows = []
        for _ in range(n):
            rid = f"r{(k * 7919) % 1000:03d}"  # ids not in shard order
            k += 1
            err = rng.random() < 0.1
            q = None if err or rng.random() < 0.05 else rng.choice([0.5, 1.0, 2.0, 2.0, 3.0, 3.5, 4.0, 4.5])
            c = None if err else rng.choice([1.0, 2.5, 2.5, 3.0, 3.0, 4.0, float("nan")])
            rows.append({"id": rid, "prompt": f"a photo of thing {k % 5}", "generator": GENERATORS[k % 3],
                         "quality_score": q, "quality_rating": None if q is None else "fair",
                         "quality_description": None if err else f"looks like {k}",
                         "correspondence_score": c,
                         "status": "error" if err else "ok", "error": "decode failed" if err else None})
        out[rel] = rows
    return out


SCHEMA = pa.schema([("id", pa.string()), ("prompt", pa.string()), ("generator", pa.string()),
                    ("quality_score", pa.float32()), ("quality_rating", pa.string()),
                    ("quality_description", pa.string()), ("correspondence_score", pa.float32()),
                    ("status", pa.string()), ("error", pa.string())])


def write_scored(root, rows: dict[str, list[dict]]) -> None:
    for rel, rs in rows.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rs, schema=SCHEMA), root / rel, row_group_size=4)


def write_images(root, rows: dict[str, list[dict]]) -> None:
    """The original shards those scores came from: id, image, prompt, generator (same names and order)."""
    for rel, rs in rows.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        t = pa.table({"id": pa.array([r["id"] for r in rs], pa.string()),
                      "image": pa.array([png(int(r["id"][1:]), 8, 8) for r in rs], pa.binary()),
                      "prompt": pa.array([r["prompt"] for r in rs], pa.string()),
                      "generator": pa.array([r["generator"] for r in rs], pa.string())})
        pq.write_table(t, root / rel)
