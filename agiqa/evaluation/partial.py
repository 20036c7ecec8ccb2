"""One shard's evaluation partial: per aspect its (predicted, mos) pairs and their sufficient statistics.

Why pairs and not only statistics: PLCC merges exactly from (n, means, M2s, co-moment), but SRCC
and KRCC need every row's global rank. Human-rated evaluation sets are 10^3-10^6 rows, so the pairs
are kept (two float64 columns, 16 bytes a row: 16 MB for 10^6 rows on the merging process) and the
merge concatenates them in shard order and ranks once, as the one-process evaluation did.

Layout, one table per shard: pair rows (`aspect`, `pred`, `mos`; the moment columns null), one
moments row per aspect (`aspect`, `n`, `mean_pred`, `mean_mos`, `m2_pred`, `m2_mos`, `c`; `pred`/`mos`
null), and one row with `aspect` null whose `n` is the shard's row count and `matched` the rows whose
id a `--labels` table holds (rows left out are counted from these).

PLCC from the statistics: each shard's are computed two-pass in float64 (means first, then centred
sums), and shards merge by Chan et al.'s pairwise update (the centred sums of the union from the
parts' and the difference of their means), which avoids the cancellation of raw sums Σx², Σxy on
scores far from zero. It agrees with scipy's `pearsonr` on the concatenated pairs to ~1e-15.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SCHEMA = pa.schema([("aspect", pa.string()), ("pred", pa.float64()), ("mos", pa.float64()), ("n", pa.int64()),
                    ("matched", pa.int64()), ("mean_pred", pa.float64()), ("mean_mos", pa.float64()),
                    ("m2_pred", pa.float64()), ("m2_mos", pa.float64()), ("c", pa.float64())])
OK_STATUSES = ("ok", "partial")


@dataclass
class Moments:
    """Count, means, centred sums of squares and the centred co-moment of (pred, mos) pairs."""

    n: int = 0
    mean_pred: float = 0.0
    mean_mos: float = 0.0
    m2_pred: float = 0.0
    m2_mos: float = 0.0
    c: float = 0.0

    @classmethod
    def of(cls, pred: np.ndarray, mos: np.ndarray) -> Moments:
        if not len(pred):
            return cls()
        mx, my = float(pred.mean()), float(mos.mean())
        dx, dy = pred - mx, mos - my
        return cls(len(pred), mx, my, float(dx @ dx), float(dy @ dy), float(dx @ dy))

    def merge(self, o: Moments) -> None:
        if o.n == 0:
            return
        n = self.n + o.n
        dx, dy = o.mean_pred - self.mean_pred, o.mean_mos - self.mean_mos
        w = self.n * o.n / n
        self.m2_pred += o.m2_pred + dx * dx * w
        self.m2_mos += o.m2_mos + dy * dy * w
        self.c += o.c + dx * dy * w
        self.mean_pred += dx * o.n / n
        self.mean_mos += dy * o.n / n
        self.n = n

    def plcc(self) -> float:
        if self.n < 2 or self.m2_pred <= 0 or self.m2_mos <= 0:
            return math.nan
        return max(-1.0, min(1.0, self.c / math.sqrt(self.m2_pred * self.m2_mos)))


def _floats(t: pa.Table, col: str) -> pa.Array:
    return t.column(col).cast(pa.float64())


def pairs_of(t: pa.Table, aspect: str, mos: pa.Array | None, status_column: str = "status") -> tuple:
    """(pred, mos) float64 numpy arrays of the rows counted for `aspect`: status ok/partial, a score and a
    label (null is absent; a NaN score is a value, as the row-wise evaluation had it). `mos`: the
    label column for these rows (None: the shard has none, so no pairs)."""
    score = _floats(t, f"{aspect}_score")
    if mos is None or status_column not in t.column_names:
        return np.zeros(0), np.zeros(0)
    ok = pc.and_(pc.fill_null(pc.is_in(t.column(status_column), pa.array(OK_STATUSES)), False),
                 pc.and_(pc.is_valid(score), pc.is_valid(mos)))
    return (np.asarray(score.filter(ok).to_numpy(zero_copy_only=False), dtype=np.float64),
            np.asarray(mos.cast(pa.float64()).filter(ok).to_numpy(zero_copy_only=False), dtype=np.float64))


def shard_table(pairs: dict[str, tuple[np.ndarray, np.ndarray]], rows: int, matched: int | None) -> pa.Table:
    """One shard's partial from its pairs per aspect (in row order) and its row counts."""
    parts = []
    for a, (pred, mos) in pairs.items():
        m = Moments.of(pred, mos)
        parts.append(pa.table({"aspect": pa.array([a] * len(pred), pa.string()), "pred": pred, "mos": mos},
                              ).select(["aspect", "pred", "mos"]))
        parts.append(pa.Table.from_pylist([{"aspect": a, "n": m.n, "mean_pred": m.mean_pred, "mean_mos": m.mean_mos,
                                            "m2_pred": m.m2_pred, "m2_mos": m.m2_mos, "c": m.c}], schema=SCHEMA))
    parts.append(pa.Table.from_pylist([{"aspect": None, "n": rows, "matched": matched}], schema=SCHEMA))
    return pa.concat_tables(parts, promote_options="default").cast(SCHEMA)


@dataclass
class Merged:
    """Every shard's partial merged: per aspect the pairs (shard order) and moments; row counts."""

    pairs: dict
    moments: dict
    rows: int = 0
    matched: int = 0


def merge_tables(tables, aspects: list[str]) -> Merged:
    preds: dict[str, list] = {a: [] for a in aspects}
    moss: dict[str, list] = {a: [] for a in aspects}
    out = Merged({}, {a: Moments() for a in aspects})
    for t in tables:
        pair = t.filter(pc.is_null(t.column("n")))
        for a in aspects:
            mine = pair.filter(pc.equal(pair.column("aspect"), a))
            preds[a].append(mine.column("pred").to_numpy())
            moss[a].append(mine.column("mos").to_numpy())
        for r in t.filter(pc.is_valid(t.column("n"))).to_pylist():
            if r["aspect"] is None:
                out.rows += r["n"]
                out.matched += r["matched"] or 0
            elif r["aspect"] in out.moments:
                out.moments[r["aspect"]].merge(Moments(r["n"], r["mean_pred"], r["mean_mos"], r["m2_pred"],
                                                       r["m2_mos"], r["c"]))
    out.pairs = {a: (np.concatenate(preds[a]) if preds[a] else np.zeros(0),
                     np.concatenate(moss[a]) if moss[a] else np.zeros(0)) for a in aspects}
    return out


def merged_metrics(m: Merged) -> dict:
    """`metrics.metrics` per aspect over the merged pairs (ranks computed once), PLCC from the merged
    moments, and the rows left out (rows read minus pairs counted)."""
    from agiqa.evaluation.metrics import metrics

    out = {}
    for a, (pred, mos) in m.pairs.items():
        r = metrics(pred, mos) if len(pred) else {"n": 0}
        if len(pred) and not math.isnan(r.get("plcc", math.nan)):
            r["plcc"] = m.moments[a].plcc()
        r["rows_left_out"] = m.rows - len(pred)
        out[a] = r
    return out
