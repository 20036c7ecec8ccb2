"""The shard runner's protocol, with FakeMethod in this process: outputs, statuses, resume, retries, passes."""

import hashlib
import json

import pyarrow.parquet as pq
import pytest

from agiqa.api import score
from agiqa.errors import ConfigError
from tests.fixtures.shards import png, write_shard
from tests.fixtures.state import state
from tests.runner.helpers import expected_scores, fake_config

SHARDS = ["a.parquet", "b.parquet", "sub/c.parquet", "sub/d.parquet"]


def test_every_row_scored_once_with_the_methods_scores(small_shards, tmp_path):
    out = tmp_path / "out"
    summary = score(fake_config(small_shards, out))
    assert (summary.shards_total, summary.shards_done, summary.shards_failed) == (4, 4, 0)
    assert summary.rows_by_status == {"ok": 40}
    for rel in SHARDS:
        got = pq.read_table(out / rel)
        assert got.column("id").to_pylist() == pq.read_table(small_shards / rel).column("id").to_pylist()
        assert "image" not in got.column_names and "fake_note" in got.column_names
        assert got.column("quality_score").to_pylist() == pytest.approx(expected_scores(small_shards / rel, "quality"))
        assert got.column("correspondence_rating").to_pylist()[0] in ("bad", "poor", "fair", "good", "excellent")
        man = json.loads((state(out) / "manifests" / (rel + ".manifest.json")).read_text())
        assert man["rows_by_status"] == {"ok": 10} and man["identity"]["method"] == "fake"
        (o,) = man["outputs"]
        assert {k: o[k] for k in ("name", "uri", "rel", "rows")} == {"name": "scored", "uri": str(out / rel),
                                                                      "rel": rel, "rows": 10}
        assert o["size"] == (out / rel).stat().st_size
        assert o["sha256"] == hashlib.sha256((out / rel).read_bytes()).hexdigest()
        meta = json.loads(pq.read_schema(out / rel).metadata[b"agiqa"])
        assert meta["identity"]["method"] == "fake" and meta["identity_hash"] == man["identity_hash"]
        assert meta["agiqa_version"]
    assert json.loads((state(out) / "job_summary.json").read_text())["rows_ok"] == 40


def test_rerun_skips_committed_shards_and_redoes_a_changed_input(small_shards, tmp_path):
    out = tmp_path / "out"
    score(fake_config(small_shards, out))
    again = score(fake_config(small_shards, out))
    assert (again.shards_skipped, again.shards_done) == (4, 0)
    write_shard(small_shards / "b.parquet", ["new#0", "new#1"])  # same name, new content: a new etag
    after = score(fake_config(small_shards, out))
    assert (after.shards_skipped, after.shards_done) == (3, 1)
    assert pq.read_table(out / "b.parquet").column("id").to_pylist() == ["new#0", "new#1"]


def test_identity_follows_the_weights_content_not_their_path(small_shards, tmp_path):
    out, weights, copy = tmp_path / "out", tmp_path / "w" / "head.bin", tmp_path / "elsewhere" / "head.bin"
    weights.parent.mkdir()
    weights.write_bytes(b"trained once")
    assert score(fake_config(small_shards, out, weights=str(weights))).shards_done == 4
    copy.parent.mkdir()
    copy.write_bytes(b"trained once")  # the same weights by another path: nothing to redo
    assert score(fake_config(small_shards, out, weights=str(copy))).shards_skipped == 4
    weights.write_bytes(b"retrained in place")  # retrained into the same path: other results, not replaced
    with pytest.raises(ConfigError, match=r"holds 4 shard\(s\) committed with other settings .*"
                                          r"method_identity\.weights: .*--overwrite"):
        score(fake_config(small_shards, out, weights=str(weights)))
    again = fake_config(small_shards, out, weights=str(weights)).model_copy(update={"overwrite": True})
    assert score(again).shards_done == 4


def test_a_rerun_with_other_settings_is_refused_before_any_work_and_nothing_is_replaced(small_shards, tmp_path):
    out = tmp_path / "out"
    assert score(fake_config(small_shards, out)).shards_done == 4
    before = {p: p.read_bytes() for p in out.rglob("*.parquet")}
    fewer = fake_config(small_shards, out).model_copy(update={"aspects": ["quality"]})
    with pytest.raises(ConfigError, match=r"aspects: \["):
        score(fewer)
    assert {p: p.read_bytes() for p in out.rglob("*.parquet")} == before  # every aspect's scores still there
    assert score(fewer.model_copy(update={"output": str(tmp_path / "other")})).shards_done == 4


def test_rows_the_method_refuses_or_cannot_decode_are_marked_and_the_rest_scored_and_counted_by_status(tmp_path):
    data, out = tmp_path / "in", tmp_path / "out"
    write_shard(data / "s.parquet", list(range(6)), ["ok", "please refuse", "ok", "ok", None, "ok"],
                [png(0), png(1), b"not an image", png(3), png(4), png(5)])
    summary = score(fake_config(data, out, refuse="refuse"))
    t = pq.read_table(out / "s.parquet").to_pydict()
    assert t["status"] == ["ok", "error", "error", "ok", "partial", "ok"]
    assert "fake refusal" in t["error"][1] and "cannot be decoded" in t["error"][2] and "null" in t["error"][4]
    assert t["quality_score"][1] is None and t["quality_score"][0] is not None
    assert t["correspondence_score"][4] is None and t["quality_score"][4] is not None
    assert summary.rows_by_status == {"ok": 3, "error": 2, "partial": 1} and summary.shards_done == 1


def test_a_job_where_every_row_failed_is_not_done(tmp_path):
    data, out = tmp_path / "in", tmp_path / "out"
    write_shard(data / "s.parquet", [1, 2], images=[b"not an image", b"nor this"])
    summary = score(fake_config(data, out))
    assert summary.shards_done == 1 and summary.all_rows_failed and "every one of the 2 rows" in summary.table()
    assert pq.read_table(out / "s.parquet").column("error_code").to_pylist() == ["image_undecodable"] * 2


def test_bad_shards_fail_at_once_and_a_broken_method_is_retried_then_reported(tmp_path):
    data, out = tmp_path / "in", tmp_path / "out"
    write_shard(data / "good.parquet", [1, 2], ["fine", "fine"])
    write_shard(data / "broken.parquet", [3, 4], ["refuse", "refuse me"])  # every row refused: the method is broken
    (data / "junk.parquet").write_bytes(b"not parquet")
    summary = score(fake_config(data, out, refuse="refuse"))
    failed = {f["shard"]: f for f in summary.failed}
    assert summary.shards_done == 1 and set(failed) == {"broken.parquet", "junk.parquet"}
    assert failed["junk.parquet"]["attempts"] == 1 and "not a readable Parquet file" in failed["junk.parquet"]["reason"]
    assert failed["broken.parquet"]["attempts"] == 3 and "fake refusal" in failed["broken.parquet"]["reason"]
    assert not (out / "broken.parquet").exists() and not (state(out) / "manifests" / "junk.parquet.manifest.json").exists()


def test_setup_and_teardown_once_per_pass(small_shards, tmp_path):
    from agiqa.runner.run import run_job
    from agiqa.workflows.score import build_score_job

    job = build_score_job(fake_config(small_shards, tmp_path / "out"))
    run_job(job)
    method = job.passes[0].stage.method
    assert (method.setups, method.teardowns) == (1, 1) and method.calls == 12  # 4 shards x 3 batches of <= 4


def test_second_pass_reads_the_first_as_a_row_aligned_side_input_and_writes_two_outputs(small_shards, tmp_path):
    """Pass 2 (ThresholdStage) reads pass 1's scores beside the original rows, batch sizes differing."""
    from agiqa.runner.job import Pass
    from agiqa.runner.run import run_job
    from agiqa.testing.fakes import ThresholdStage
    from agiqa.workflows.score import build_score_job

    scored, split = tmp_path / "scored", tmp_path / "split"
    job = build_score_job(fake_config(small_shards, scored, read_batch_rows=3))
    job.passes.append(Pass(ThresholdStage("quality_score", 2.2), str(small_shards), str(split), side_input=str(scored)))
    summary = run_job(job)
    assert summary.stages == ["score", "threshold"] and summary.shards_done == 8
    by = summary.rows_by_status  # the job's result: the last pass's rows, each counted once
    assert set(by) == {"kept", "dropped"} and by["kept"] + by["dropped"] == 40 and by["kept"] > 0 and by["dropped"] > 0
    assert summary.passes[0]["rows_by_status"] == {"ok": 40} and summary.passes[1]["rows_by_status"] == by
    for rel in SHARDS:
        want = dict(zip(pq.read_table(scored / rel).column("id").to_pylist(),
                        pq.read_table(scored / rel).column("quality_score").to_pylist(), strict=True))
        kept = pq.read_table(split / "kept" / rel) if (split / "kept" / rel).exists() else None
        dropped = pq.read_table(split / "dropped" / rel)
        assert "image" not in dropped.column_names
        rows = dropped.to_pylist() + ([] if kept is None else kept.to_pylist())
        assert sorted(r["id"] for r in rows) == sorted(want)
        for r in rows:  # each row met its own score: the side input stayed aligned
            assert r["side_value"] == pytest.approx(want[r["id"]])
            assert (r["status"] == "kept") == (want[r["id"]] >= 2.2)
        if kept is not None:
            assert "image" in kept.column_names
        man = json.loads((state(split) / "manifests" / (rel + ".manifest.json")).read_text())
        assert [o["name"] for o in man["outputs"]] == ["kept", "dropped"] and man["side_input"]["etag"]
        assert sum(o["rows"] for o in man["outputs"]) == 10


@pytest.mark.parametrize("damage", ["deleted", "truncated", "rewritten"])
def test_a_committed_shard_whose_output_was_damaged_is_done_again_not_skipped(small_shards, tmp_path, damage):
    """A rerun trusts the outputs, not the manifests: a deleted, truncated or rewritten (same size)
    output is scored again, said in the summary, and the dataset is whole again."""
    import os

    out = tmp_path / "out"
    score(fake_config(small_shards, out))
    target = out / "sub" / "c.parquet"
    good = target.read_bytes()
    if damage == "deleted":
        target.unlink()
    elif damage == "truncated":
        target.write_bytes(good[: len(good) // 2])
    else:
        st = target.stat()
        target.write_bytes(bytes(reversed(good)))  # same size: the etag (mtime) tells
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    again = score(fake_config(small_shards, out))
    assert (again.shards_done, again.shards_skipped) == (1, 3)
    assert list(again.passes[0]["redone_damaged"]) == ["sub/c.parquet"]
    assert pq.read_table(target).num_rows == 10 and target.read_bytes() == good
