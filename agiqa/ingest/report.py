"""What an ingest skipped and why: per output shard (in its manifest) and for the whole input (the report).

Every item that does not become an output row is listed with a stable `code` (for counting) and a
`reason` in words: an undecodable image, an image without a table row, a table row or img2dataset
row without an image, a bad tar member, a truncated tar, a duplicate id. The report is written to
`<output>.agiqa/ingest-report.json` (the output's state root, beside it); `IngestSummary.line()`
is the one-line summary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from agiqa.storage.layout import state_uri

REPORT_NAME = "ingest-report.json"
#: The ingest stage's record of each batch's bad rows, in the state root (read back into the report).
REJECTS_DIR = "ingest/rejects"


def rejects_uri(output: str, rel: str, first_index: int) -> str:
    """Where the bad rows of the batch of work list `rel` starting at row `first_index` are recorded."""
    return state_uri(output, f"{REJECTS_DIR}/{rel}/{first_index:09d}.json")


@dataclass(frozen=True)
class Skip:
    item: str  # what was skipped: a relative path, a tar member or key, a table row
    code: str  # stable: image_undecodable, image_without_row, row_without_image, tar_member, ...
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class IngestSummary:
    input: str
    output: str
    format: str
    shards_total: int = 0
    shards_written: int = 0
    shards_already_done: int = 0
    shards_failed: dict[str, str] = field(default_factory=dict)  # output shard -> why
    rows_written: int = 0  # rows in every committed output shard (this run's and earlier ones)
    skipped: list[Skip] = field(default_factory=list)
    duplicate_ids: list[str] = field(default_factory=list)  # examples
    duplicate_id_count: int = 0  # ids that occur more than once across the shards
    seconds: float = 0.0

    @property
    def skipped_by_code(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.skipped:
            out[s.code] = out.get(s.code, 0) + 1
        return dict(sorted(out.items()))

    @property
    def ok(self) -> bool:
        return not self.shards_failed and not self.duplicate_id_count

    def line(self) -> str:
        skipped = ", ".join(f"{n} {code}" for code, n in self.skipped_by_code.items()) or "none"
        failed = f"; {len(self.shards_failed)} shard(s) FAILED" if self.shards_failed else ""
        dups = f"; {self.duplicate_id_count} duplicate id(s)" if self.duplicate_id_count else ""
        return (f"ingest {self.format}: {self.rows_written} rows in {self.shards_total} shard(s) "
                f"({self.shards_written} written, {self.shards_already_done} already done){failed}{dups}; "
                f"skipped: {skipped}; {self.seconds:.1f}s; report: {state_uri(self.output, REPORT_NAME)}")

    def to_dict(self) -> dict:
        return {"input": self.input, "output": self.output, "format": self.format,
                "shards_total": self.shards_total, "shards_written": self.shards_written,
                "shards_already_done": self.shards_already_done, "shards_failed": self.shards_failed,
                "rows_written": self.rows_written, "skipped_by_code": self.skipped_by_code,
                "skipped": [s.to_dict() for s in self.skipped], "duplicate_ids": self.duplicate_ids,
                "duplicate_id_count": self.duplicate_id_count,
                "seconds": round(self.seconds, 3), "ok": self.ok}
