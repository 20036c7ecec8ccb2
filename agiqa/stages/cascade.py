"""CascadeStage: the main scorer behind a cheap one. Only rows the prefilter's rules pass are
decoded and scored by the main method; the others keep the cheap scores with status `prefiltered`.

It reads the prefilter pass's output as a row-aligned side input (`<aspect>_score`, `status`, the id).
A row goes on when it passes every rule (cheap score at or above the aspect's threshold; inside the
aspect's global top-fraction cutoff), or when the cheap method could not score it (its own status
`error`: the main stage then decides, and marks it if it cannot either). Output columns are the main
stage's, plus `prefilter_<aspect>_score` for every row, so both scores of a routed row are kept, and
`<aspect>_score_source` per main aspect: whose score `<aspect>_score` holds on that row (the main
method's name, or `prefilter:<cheap name>` on a prefiltered row; null with the score). The two
methods' scales need not agree, so audit and filter read that column to keep them apart
(`agiqa.score_source`). A prefiltered row's rating comes from the cheap method's own `ScoreSpec`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from agiqa.score_source import prefilter_source, source_column
from agiqa.stages.score import PreparedRows, ScoreStage

PREFILTERED = "prefiltered"


class CascadeStage:
    def __init__(self, inner: ScoreStage, prefilter_aspects: tuple[str, ...], thresholds: dict[str, float],
                 cutoffs: dict[str, dict], prefilter_identity_hash: str, id_column: str, prefilter_method: str,
                 prefilter_spec):
        from agiqa.selection import RankCutoff

        self.inner = inner
        self.name = inner.name
        self.resources = inner.resources
        self.required_columns = inner.required_columns
        self.drop_columns = inner.drop_columns
        self.outputs = inner.outputs
        self.prefilter_aspects = tuple(prefilter_aspects)
        self.thresholds = dict(thresholds)
        self.cutoffs = {a: RankCutoff.from_dict(c) for a, c in cutoffs.items()}
        self._cutoff_dicts = dict(cutoffs)
        self.prefilter_identity_hash = prefilter_identity_hash
        self.id_column = id_column
        self.prefilter_method, self.prefilter_spec = prefilter_method, prefilter_spec
        self._schema: pa.Schema | None = None

    def added_input_columns(self, schema: pa.Schema, rel: str) -> list:
        """The main stage's (a synthesised id numbers rows as the prefilter pass did: they match)."""
        return self.inner.added_input_columns(schema, rel)

    def identity(self) -> dict:
        return {**self.inner.identity(), "prefilter": {
            "identity_hash": self.prefilter_identity_hash, "method": self.prefilter_method,
            "score_source": True, "thresholds": self.thresholds,
            "top_fraction": {a: {k: c[k] for k in ("fraction", "value", "id", "keep", "total")}
                             for a, c in self._cutoff_dicts.items()}}}

    @staticmethod
    def settings_of(identity: dict) -> dict:
        """`identity` without what is derived from the prefilter's scores (a top-fraction cutoff's
        value, boundary id and counts move when the input grows; the fraction is the user's)."""
        pre = dict(identity.get("prefilter") or {})
        pre["top_fraction"] = {a: {"fraction": c.get("fraction")} for a, c in (pre.get("top_fraction") or {}).items()}
        return {**identity, "prefilter": pre}

    def output_fields(self) -> list[pa.Field]:
        fields = self.inner.output_fields()
        from agiqa.aspects import spec_metadata

        extra = [pa.field(f"prefilter_{a}_score", pa.float32(), metadata=spec_metadata(self.prefilter_spec))
                 for a in self.prefilter_aspects]
        extra += [pa.field(source_column(f"{a}_score"), pa.string()) for a in self.inner.method.aspects]
        return fields[:-3] + extra + fields[-3:]  # before status, error_code, error

    def setup(self) -> None:
        self.inner.setup()

    def teardown(self) -> None:
        self.inner.teardown()

    def routes(self, side: pa.RecordBatch) -> np.ndarray:
        """True for the rows that go on to the main method."""
        status = np.asarray(side.column("status").to_pylist(), dtype=object)
        go = np.ones(side.num_rows, dtype=bool)
        for a, t in self.thresholds.items():
            v = np.asarray(side.column(f"{a}_score").to_pylist(), dtype=object)
            better = self.prefilter_spec is None or self.prefilter_spec.higher_is_better  # a threshold is "at least as good"
            go &= np.array([x is not None and (x >= t if better else x <= t) for x in v], dtype=bool)
        for a, cutoff in self.cutoffs.items():
            go &= np.asarray(cutoff.keeps(side.column(f"{a}_score"), side.column(self.id_column)), dtype=bool)
        return go | (status == "error")

    def prepare(self, batch: pa.RecordBatch, side: pa.RecordBatch | None, shard=None):
        if side is None:
            raise ValueError("the cascade's main stage needs the prefilter's output as its side input")
        ids, side_ids = batch.column(self.id_column), side.column(self.id_column)
        if not ids.equals(side_ids):
            raise ValueError("prefilter output is not row-aligned with the input shard (ids differ)")
        go = self.routes(side)
        routed = np.flatnonzero(go)
        inner = self.inner.prepare(batch.take(pa.array(routed, pa.int64())), None, shard) if len(routed) else None
        cheap = {a: side.column(f"{a}_score").to_pylist() for a in self.prefilter_aspects}
        return go, inner, cheap

    async def process(self, prepared) -> pa.RecordBatch:
        go, inner, cheap = prepared
        n = len(go)
        if self._schema is None:
            self._schema = pa.schema(self.output_fields())
        main = await self.inner.process(inner) if inner is not None else None
        main_rows = main.to_pylist() if main is not None else []
        spec, aspects = self.prefilter_spec, self.inner.method.aspects
        main_source, cheap_source = self.inner.method.name, prefilter_source(self.prefilter_method)
        cols: dict[str, list] = {f.name: [None] * n for f in self._schema}
        k = 0
        for i in range(n):
            if go[i]:
                for name, v in main_rows[k].items():
                    cols[name][i] = v
                for a in aspects:
                    if cols[f"{a}_score"][i] is not None:
                        cols[source_column(f"{a}_score")][i] = main_source
                k += 1
            else:
                for a in aspects:
                    if a in cheap and cheap[a][i] is not None:
                        cols[f"{a}_score"][i] = cheap[a][i]
                        cols[f"{a}_rating"][i] = spec.rating(cheap[a][i])
                        cols[source_column(f"{a}_score")][i] = cheap_source
                cols["status"][i] = PREFILTERED
            for a in self.prefilter_aspects:
                cols[f"prefilter_{a}_score"][i] = cheap[a][i]
        return pa.RecordBatch.from_pydict(cols, schema=self._schema)


__all__ = ["CascadeStage", "PREFILTERED", "PreparedRows"]
