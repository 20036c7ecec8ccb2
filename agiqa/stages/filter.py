"""FilterStage: the apply step of a filter job: every scored row `kept` or `dropped` (with a reason).

Outputs per input shard: `keep/` and `drop/` manifests (the scored columns without image bytes
and long descriptions, plus `status` and `reason`), and with `write_rows` also `rows/`: the kept
rows with their image bytes, as new shards with the input's relative names. The image comes from
the scored rows when they still hold it, else from the original shards read as a row-aligned side
input (ids checked row by row: a misaligned side input fails the shard, never mislabels an image).
The identity holds the rules and the thresholds computed for them, so other rules, or the same
top fraction of changed data, recompute instead of reusing old outputs.
"""

from __future__ import annotations

import pyarrow as pa

from agiqa.filtering.decide import decide
from agiqa.filtering.rules import Rule
from agiqa.resources import Resources
from agiqa.runner.stage import ShardOutput
from agiqa.score_source import source_column
from agiqa.selection import RankCutoff


class FilterStage:
    name = "filter"
    drop_columns = ()
    counted_columns = ("reason",)  # drops per reason in every manifest: the stats reduce reads no rows

    def __init__(self, rules: list[Rule], cutoffs: dict[str, RankCutoff], *, id_column: str = "id",
                 status_column: str | None = "status", image_column: str = "image",
                 image_from_side: bool = False, write_rows: bool = False,
                 manifest_drop: tuple[str, ...] = (), resources: Resources | None = None,
                 sources: dict[str, str] | None = None):
        self.rules, self.cutoffs = list(rules), dict(cutoffs)
        #: column -> the one source judged on it (a cascade's mixed column; `agiqa.filtering.sources`)
        self.sources = dict(sources or {})
        self.id_column, self.status_column, self.image_column = id_column, status_column, image_column
        self.image_from_side = image_from_side and write_rows
        self.write_rows = write_rows
        self.resources = resources or Resources(num_cpus=1.0)
        cols = [id_column] + [r.column for r in self.rules] + ([status_column] if status_column else [])
        cols += [source_column(c) for c in self.sources]
        self.required_columns = tuple(dict.fromkeys(cols))
        hidden = tuple(dict.fromkeys((image_column, *manifest_drop)))
        outs = [ShardOutput("keep", folder="keep", statuses=("kept",), drop_columns=hidden),
                ShardOutput("drop", folder="drop", statuses=("dropped",), drop_columns=hidden)]
        if write_rows:
            outs.append(ShardOutput("rows", folder="rows", statuses=("kept",), drop_columns=("status", "reason")))
        self.outputs = tuple(outs)

    def identity(self) -> dict:
        return {"stage": self.name, "rules": [r.text for r in self.rules],
                "cutoffs": {k: c.to_dict() for k, c in sorted(self.cutoffs.items())},
                **({"sources": dict(sorted(self.sources.items()))} if self.sources else {}),
                "id_column": self.id_column, "status_column": self.status_column,
                "write_rows": self.write_rows, "image_column": self.image_column,
                "image_from_side": self.image_from_side, "outputs": [o.name for o in self.outputs]}

    @staticmethod
    def settings_of(identity: dict) -> dict:
        """`identity` without the cutoffs a top-fraction rule computed (the rules say what was asked)."""
        return {k: v for k, v in identity.items() if k != "cutoffs"}

    def output_fields(self) -> list[pa.Field]:
        fields = [pa.field("status", pa.string()), pa.field("reason", pa.string())]
        if self.image_from_side:
            fields.append(pa.field(self.image_column, pa.binary()))
        return fields

    def setup(self) -> None:
        pass

    def prepare(self, batch: pa.RecordBatch, side: pa.RecordBatch | None, shard=None) -> pa.RecordBatch:
        status, reason = decide(batch, self.rules, self.cutoffs, self.id_column, self.status_column, self.sources)
        arrays = [status, reason]
        if self.image_from_side:
            if side is None:
                raise ValueError("write_rows needs the original shards (--images) as a side input")
            ids, side_ids = batch.column(self.id_column), side.column(self.id_column)
            if not ids.equals(side_ids.cast(ids.type)):
                raise ValueError(f"the images' rows are not the scored rows: column {self.id_column!r} differs "
                                 "(the --images shards must be the ones that were scored, unchanged)")
            arrays.append(side.column(self.image_column).cast(pa.binary()))
        return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(self.output_fields()))

    def process(self, prepared: pa.RecordBatch) -> pa.RecordBatch:
        return prepared

    def teardown(self) -> None:
        pass
