"""One shard's audit statistics (`Collected`) as a small Parquet table, and back, bit for bit.

Why a table of typed columns, one row per record: the partial must round-trip exactly (the merged
report is the one a single process computes: the same float64 moments, the same sketch counts, the
same heaps), stay small (it grows with groups x aspects x sketch buckets and k examples, never with
rows) and be readable with any Parquet tool for debugging. Each row has a `kind`; the columns a kind
does not use are null:

| kind      | group | key                 | other columns                                                   |
|-----------|-------|---------------------|-----------------------------------------------------------------|
| `meta`    |       |                     | `count` = shards, `flag` = prompts truncated / groups overflowed |
| `group`   | g     |                     | `count` = rows                                                  |
| `status`  | g     | status (or null)    | `count`                                                         |
| `reason`  | g     | error reason        | `count`                                                         |
| `aspect`  | g     | statistics key      | `count` = n, `nonfinite`, `mean`, `m2`, `min`, `max`, `flag` = sketch exact, `values` (float64 bytes when exact, else int32 bucket keys), `counts` (int64 bucket counts) |
| `rating`  | g     | statistics key      | `text` = the rating word, `count`                                |
| `example` | g     | statistics key      | `text` = the `Example` as JSON, `worst_at` / `best_at` = its index in each heap (null: not in it) |
| `prompt`  |       | source (or null)    | `text` = prompt, `total`, `count`                               |

Rows keep every dict's and Counter's insertion order, and the heaps' array order, so merging the
decoded partials in shard order does exactly what merging the in-memory ones did.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from agiqa.audit.collect import Collected
from agiqa.audit.sketch import QuantileSketch
from agiqa.audit.stats import AspectStats, Example, GroupStats, _Rev

#: Bumped when the layout changes (part of the audit stage's identity: old partials are redone).
LAYOUT_VERSION = 1

SCHEMA = pa.schema([
    ("kind", pa.string()), ("group", pa.string()), ("key", pa.string()), ("text", pa.string()),
    ("count", pa.int64()), ("nonfinite", pa.int64()), ("mean", pa.float64()), ("m2", pa.float64()),
    ("min", pa.float64()), ("max", pa.float64()), ("total", pa.float64()), ("flag", pa.bool_()),
    ("values", pa.binary()), ("counts", pa.binary()), ("worst_at", pa.int32()), ("best_at", pa.int32()),
])


def to_table(c: Collected, overflowed: bool = False) -> pa.Table:
    """`c` as one partial table (`overflowed`: the shard alone had more groups than allowed)."""
    rows: list[dict] = [{"kind": "meta", "count": c.shards, "flag": c.prompts_truncated, "text":
                         "overflowed" if overflowed else None}]
    for g, gs in c.groups.items():
        rows.append({"kind": "group", "group": g, "count": gs.rows})
        rows += [{"kind": "status", "group": g, "key": s, "count": n} for s, n in gs.statuses.items()]
        rows += [{"kind": "reason", "group": g, "key": r, "count": n} for r, n in gs.reasons.items()]
        for key, st in gs.aspects.items():
            rows.append(_aspect_row(g, key, st))
            rows += [{"kind": "rating", "group": g, "key": key, "text": w, "count": n} for w, n in st.ratings.items()]
            rows += _example_rows(g, key, st)
    rows += [{"kind": "prompt", "key": s, "text": p, "total": total, "count": n}
             for (s, p), (total, n) in c.prompts.items()]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _aspect_row(g: str, key: str, st: AspectStats) -> dict:
    sk = st.sketch
    if sk.exact:
        values = (np.concatenate(sk.values) if sk.values else np.zeros(0)).astype(np.float64).tobytes()
        counts = None
    else:
        values, counts = sk.keys.astype(np.int32).tobytes(), sk.counts.astype(np.int64).tobytes()
    return {"kind": "aspect", "group": g, "key": key, "count": st.n, "nonfinite": st.nonfinite, "mean": st.mean,
            "m2": st.m2, "min": st.min, "max": st.max, "flag": sk.exact, "values": values, "counts": counts}


def _example_rows(g: str, key: str, st: AspectStats) -> list[dict]:
    where: dict[int, dict] = {}
    for heap, name in ((st.worst, "worst_at"), (st.best, "best_at")):
        for i, (_, ex) in enumerate(heap):
            row = where.setdefault(id(ex), {"kind": "example", "group": g, "key": key, "text": _example_json(ex)})
            row[name] = i
    return list(where.values())


def _example_json(ex: Example) -> str:
    return json.dumps({"score": ex.score, "id": ex.id, "shard": ex.shard, "prompt": ex.prompt, "scores": ex.scores,
                       "descriptions": ex.descriptions})


def from_table(t: pa.Table) -> tuple[Collected, bool]:
    """The `Collected` a partial table holds, and whether its shard overflowed the group limit."""
    c, overflowed = Collected(), False
    heaps: dict[tuple[str, str], tuple[dict, dict]] = {}
    for r in t.to_pylist():
        kind, g, key = r["kind"], r["group"], r["key"]
        gs = c.groups.get(g) if g is not None else None
        if kind == "meta":
            c.shards, c.prompts_truncated, overflowed = r["count"], bool(r["flag"]), r["text"] == "overflowed"
        elif kind == "group":
            c.groups[g] = GroupStats(rows=r["count"])
        elif kind == "status":
            gs.statuses[key] = r["count"]
        elif kind == "reason":
            gs.reasons[key] = r["count"]
        elif kind == "aspect":
            gs.aspects[key] = _aspect(r)
        elif kind == "rating":
            gs.aspects[key].ratings[r["text"]] = r["count"]
        elif kind == "example":
            ex = Example(**json.loads(r["text"]))
            worst, best = heaps.setdefault((g, key), ({}, {}))
            if r["worst_at"] is not None:
                worst[r["worst_at"]] = ((-ex.score, _Rev(ex.id)), ex)
            if r["best_at"] is not None:
                best[r["best_at"]] = ((ex.score, _Rev(ex.id)), ex)
        elif kind == "prompt":
            c.prompts[(key, r["text"])] = [r["total"], r["count"]]
    for (g, key), (worst, best) in heaps.items():
        st = c.groups[g].aspects[key]
        st.worst, st.best = [worst[i] for i in sorted(worst)], [best[i] for i in sorted(best)]
    return c, overflowed


def _aspect(r: dict) -> AspectStats:
    sk = QuantileSketch()
    if r["flag"]:
        values = np.frombuffer(r["values"], dtype=np.float64).copy()
        sk.values = [values] if len(values) else []
    else:
        sk.values = None
        sk.keys = np.frombuffer(r["values"], dtype=np.int32).copy()
        sk.counts = np.frombuffer(r["counts"], dtype=np.int64).copy()
    return AspectStats(sketch=sk, n=r["count"], nonfinite=r["nonfinite"], mean=r["mean"], m2=r["m2"], min=r["min"],
                       max=r["max"])
