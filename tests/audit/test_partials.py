"""The audit as partial passes: per shard one statistics table, merged by a reduce. The numbers equal
a reference merge done here in memory from `batch_stats` (what the one-process audit did), in exact
and in bucket (DDSketch) mode; a rerun over unchanged shards reads no rows; a shard without a
committed partial fails the audit naming it; Ray gives the local runner's report."""

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from agiqa.api import audit
from agiqa.errors import DataError
from tests.fixtures.state import state

SCHEMA = pa.schema([("id", pa.string()), ("prompt", pa.string()), ("generator", pa.string()),
                    ("quality_score", pa.float32()), ("quality_rating", pa.string()),
                    ("correspondence_score", pa.float32()), ("correspondence_score_source", pa.string()),
                    ("status", pa.string()), ("error", pa.string())])
SIZES = {"a.parquet": 40, "b/big.parquet": 3000, "c.parquet": 0, "d.parquet": 1700}


def rows(n, seed):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        err = rng.random() < 0.05
        q = None if err else rng.choice([round(rng.uniform(0, 5), 3), 2.5, float("nan") if i % 97 == 0 else 1.0])
        out.append({"id": f"{seed}-{i:05d}", "prompt": f"prompt {rng.randint(0, 30)}", "generator": rng.choice("xxxy"),
                    "quality_score": q, "quality_rating": None if q is None else "fair",
                    "correspondence_score": None if err else rng.uniform(-3, 9),
                    "correspondence_score_source": None if err else rng.choice(["m3-agiqa", "prefilter:clip"]),
                    "status": "error" if err else "ok", "error": rng.choice(["too large", "not an image"]) if err
                    else None})
    return out


def write(root, seed=0):
    for k, (rel, n) in enumerate(SIZES.items()):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows(n, seed * 10 + k), schema=SCHEMA), root / rel)
    return root


def reference_numbers(root, spec):
    """The one-process merge: every shard's batches through `batch_stats`, shards merged in name order."""
    from agiqa.audit.collect import Collected, batch_stats
    from agiqa.audit.numbers import audit_numbers

    total = Collected()
    for rel in sorted(SIZES):
        shard = Collected(shards=1)
        pf = pq.ParquetFile(root / rel)
        for b in pf.iter_batches(batch_size=spec.batch_rows, columns=spec.columns(pf.schema_arrow.names)):
            shard.merge(batch_stats(pa.Table.from_batches([b]), spec, rel), spec)
        total.merge(shard, spec)
    return audit_numbers(total, spec.group_by, spec.aspects, spec.examples)


def cfg(tmp_path, **more):
    return {"input": str(tmp_path / "scored"), "output": str(tmp_path / "report"), "group_by": ["generator"],
            "examples": 3, "progress": False, **more}


def same(a, b):
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_the_merged_partials_give_the_one_process_numbers_and_a_rerun_reads_no_rows(tmp_path):
    from agiqa.audit.collect import AuditSpec

    write(tmp_path / "scored")
    first = audit(cfg(tmp_path))
    spec = AuditSpec(group_by=["generator"], aspects=["quality", "correspondence"], prompt_column="prompt",
                     status_column="status", reason_column="error", examples=3)
    want = reference_numbers(tmp_path / "scored", spec)
    assert same(first["numbers"], want)
    big = first["numbers"]["groups"]["x"]["aspects"]["quality"]
    assert big["n"] > 2048  # the merged sketch went to buckets: its counts merged exactly
    partials = state(tmp_path / "report") / "partials" / "audit-input"
    assert sorted(p.relative_to(partials).as_posix() for p in partials.rglob("*.parquet")) == sorted(SIZES)
    assert [p["shards_done"] for p in first["passes"]] == [len(SIZES)]

    again = audit(cfg(tmp_path))
    assert [(p["shards_done"], p["shards_skipped"]) for p in again["passes"]] == [(0, len(SIZES))]
    assert same(again["numbers"], first["numbers"])
    assert (tmp_path / "report" / "report.html").read_text() and (tmp_path / "report" / "groups.csv").exists()

    other = audit(cfg(tmp_path, group_by=[]))  # other settings: the partials are redone, not refused
    assert other["passes"][0]["shards_done"] == len(SIZES) and other["rows"] == first["rows"]


def test_a_compare_root_gets_its_own_partials_and_a_changed_shard_is_redone_alone(tmp_path):
    write(tmp_path / "scored")
    write(tmp_path / "before", seed=1)
    first = audit(cfg(tmp_path, compare=str(tmp_path / "before")))
    assert first["compare"] and [p["shards_done"] for p in first["passes"]] == [len(SIZES)] * 2
    assert (state(tmp_path / "report") / "partials" / "audit-compare" / "a.parquet").exists()
    pq.write_table(pa.Table.from_pylist(rows(55, 99), schema=SCHEMA), tmp_path / "scored" / "a.parquet")
    again = audit(cfg(tmp_path, compare=str(tmp_path / "before")))
    assert [(p["shards_done"], p["shards_skipped"]) for p in again["passes"]] == [(0, 4), (1, 3)]
    assert again["rows"] == first["rows"] + 15


def test_a_shard_without_a_committed_partial_fails_the_audit_naming_it(tmp_path):
    write(tmp_path / "scored")
    (tmp_path / "scored" / "z.parquet").write_bytes(b"PAR1 not parquet at all")
    with pytest.raises(DataError, match=r"z\.parquet.*no committed audit partial"):
        audit(cfg(tmp_path))
    assert not (tmp_path / "report" / "report.html").exists()


def test_too_many_groups_in_one_shard_is_refused_in_one_line(tmp_path):
    write(tmp_path / "scored")
    with pytest.raises(DataError, match="group-by id has more than 10 distinct values"):
        audit(cfg(tmp_path, group_by=["id"], max_groups=10))


def test_audit_on_a_real_local_ray_equals_the_local_runner(ray_local, tmp_path):
    write(tmp_path / "scored")
    local = audit(cfg(tmp_path))
    on_ray = audit({**cfg(tmp_path), "output": str(tmp_path / "report-ray"), "runner": {"kind": "ray"}})
    assert on_ray["passes"][0]["shards_done"] == len(SIZES)
    assert same(on_ray["numbers"], local["numbers"])
