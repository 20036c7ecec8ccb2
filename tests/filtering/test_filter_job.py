"""The filter job on scored shards with known scores: exact keep/drop sets and reasons, a global top
fraction across uneven shards with ties, kept rows with their images, stats, resume, dry run."""

import json
import math
import subprocess
import sys

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from agiqa.errors import ConfigError
from tests.filtering.data import scored_rows, write_images, write_scored

RULES = ["quality_score >= 2", "top_fraction correspondence_score=0.3"]


def expected(rows_by_shard, q_min: float, fraction: float) -> dict[str, str | None]:
    """id -> None (kept) or the reason, computed here by sorting everything in Python."""
    rows = [r for rs in rows_by_shard.values() for r in rs]

    def has(v):
        return v is not None and not math.isnan(v)

    pop = sorted((r for r in rows if r["status"] != "error" and has(r["correspondence_score"])),
                 key=lambda r: (-r["correspondence_score"], r["id"]))
    n = -(-round(fraction * 1000) * len(pop) // 1000)  # ceil, exact (fractions here have <= 3 decimals)
    top = {r["id"] for r in pop[:n]}
    out = {}
    for r in rows:
        if r["status"] == "error":
            out[r["id"]] = "status=error"
        elif not has(r["quality_score"]):
            out[r["id"]] = "null quality_score"
        elif not r["quality_score"] >= q_min:
            out[r["id"]] = f"quality_score >= {q_min:g}"
        elif not has(r["correspondence_score"]):
            out[r["id"]] = "null correspondence_score"
        elif r["id"] not in top:
            out[r["id"]] = f"top_fraction correspondence_score={fraction:g}"
        else:
            out[r["id"]] = None
    return out


@pytest.fixture
def scored(tmp_path):
    rows = scored_rows(seed=4)
    write_scored(tmp_path / "scored", rows)
    write_images(tmp_path / "images", rows)
    return tmp_path, rows


def config(tmp, rules=RULES, **kw):
    return {"input": str(tmp / "scored"), "output": str(tmp / "out"), "rules": rules,
            "runner": {"kind": "local"}, "progress": False, "read_batch_rows": 5, **kw}


def read_dir(path):
    return ds.dataset(str(path), format="parquet").to_table()


def test_keep_and_drop_sets_reasons_rows_and_stats_are_exact(scored):
    from agiqa.api import filter as filter_

    tmp, rows = scored
    want = expected(rows, 2, 0.3)
    summary = filter_(config(tmp, images=str(tmp / "images"), write_rows=True))
    assert not summary.failed
    keep, drop = read_dir(tmp / "out" / "keep"), read_dir(tmp / "out" / "drop")
    assert sorted(keep.column("id").to_pylist()) == sorted(i for i, w in want.items() if w is None)
    assert dict(zip(drop.column("id").to_pylist(), drop.column("reason").to_pylist(), strict=True)) == {
        i: w for i, w in want.items() if w is not None}
    assert "image" not in keep.column_names and "quality_description" not in keep.column_names
    assert set(keep.column("status").to_pylist()) == {"kept"} and "input_status" in keep.column_names
    # kept rows with their images: exactly the input rows, byte for byte, shard by shard
    for rel in rows:
        kept_ids = {r["id"] for r in rows[rel] if want[r["id"]] is None}
        src = pq.read_table(tmp / "images" / rel).to_pylist()
        got = pq.read_table(tmp / "out" / "rows" / rel).to_pylist()
        assert [{k: r[k] for k in ("id", "image", "prompt", "generator")} for r in got] == [
            r for r in src if r["id"] in kept_ids]
    stats = json.loads((tmp / "out.agiqa" / "stats.json").read_text())
    reasons = {}
    for w in want.values():
        if w is not None:
            reasons[w] = reasons.get(w, 0) + 1
    assert (stats["rows_in"], stats["kept"], stats["dropped_by_reason"]) == (len(want), keep.num_rows, reasons)
    assert stats["per_shard"]["b.parquet"]["rows_in"] == len(rows["b.parquet"])
    assert stats["per_shard"]["b.parquet"]["kept"] == sum(want[r["id"]] is None for r in rows["b.parquet"])
    top = stats["thresholds"]["top_fraction correspondence_score=0.3"]
    every = [r for rs in rows.values() for r in rs]
    ranked = [r for r in every if r["status"] != "error" and r["correspondence_score"] is not None
              and not math.isnan(r["correspondence_score"])]
    assert (top["total"], top["keep"]) == (len(ranked), math.ceil(len(ranked) * 3 / 10))
    assert summary.reduced["stats"]["kept"] == keep.num_rows


def test_same_kept_set_whatever_the_sharding(scored, tmp_path):
    from agiqa.api import filter as filter_

    tmp, rows = scored
    flat = {"all.parquet": [r for rs in rows.values() for r in rs][::-1]}
    write_scored(tmp_path / "flat" / "scored", flat)
    filter_(config(tmp_path / "flat"))
    filter_(config(tmp))
    assert sorted(read_dir(tmp_path / "flat" / "out" / "keep").column("id").to_pylist()) == sorted(
        read_dir(tmp / "out" / "keep").column("id").to_pylist())


def test_rerun_reuses_and_other_rules_recompute(scored):
    from agiqa.api import filter as filter_

    tmp, rows = scored
    filter_(config(tmp))
    again = filter_(config(tmp))
    assert again.passes[-1]["shards_skipped"] == 5 and again.passes[-1]["shards_done"] == 0
    rules = ["quality_score >= 3", "top_fraction correspondence_score=0.5"]
    with pytest.raises(ConfigError, match=r"committed with other settings .*rules.*--overwrite"):
        filter_(config(tmp, rules=rules))  # other rules never silently replace the committed decisions
    other = filter_(config(tmp, rules=rules, overwrite=True))
    assert other.passes[-1]["shards_done"] == 5
    want = expected(rows, 3, 0.5)
    assert sorted(read_dir(tmp / "out" / "keep").column("id").to_pylist()) == sorted(
        i for i, w in want.items() if w is None)
    assert json.loads((tmp / "out.agiqa" / "stats.json").read_text())["rules"] == [
        "quality_score >= 3", "top_fraction correspondence_score=0.5"]


def test_dry_run_counts_without_writing(scored):
    from agiqa.api import filter_dry_run

    tmp, rows = scored
    want = expected(rows, 2, 0.3)
    d = filter_dry_run(config(tmp))
    assert not (tmp / "out").exists()
    assert d["kept"] == sum(w is None for w in want.values()) and d["rows"] == len(want)
    by_rule = {r["rule"]: r for r in d["rules"]}
    every = [r for rs in rows.values() for r in rs]
    assert by_rule["quality_score >= 2"]["keeps_alone"] == sum(
        1 for r in every if r["status"] != "error" and r["quality_score"] is not None and r["quality_score"] >= 2)
    assert by_rule["top_fraction correspondence_score=0.3"]["keeps_alone"] == d["thresholds"][
        "top_fraction correspondence_score=0.3"]["keep"]
    out = subprocess.run([sys.executable, "-m", "agiqa", "filter", "--input", str(tmp / "scored"), "--output",
                          str(tmp / "out"), "--keep", "quality_score >= 2", "--top-fraction",
                          "correspondence_score=0.3", "--dry-run"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"all rules: {d['kept']} kept" in out.stdout and not (tmp / "out").exists()


@pytest.mark.parametrize("kw, match", [
    ({"rules": ["aesthetic_score >= 3"]}, "column 'aesthetic_score' is not in"),
    ({"rules": ["quality_rating >= 3"]}, "not a number"),
    ({"write_rows": True}, "--images"),
    ({"id_column": "uid"}, "column 'uid'"),
])
def test_bad_setups_are_refused_before_any_work(scored, kw, match):
    from agiqa.api import filter as filter_

    tmp, _ = scored
    with pytest.raises(ConfigError, match=match):
        filter_(config(tmp, **kw))
    assert not (tmp / "out").exists()


def test_cli_refuses_a_bad_rule_in_one_line(scored):
    tmp, _ = scored
    out = subprocess.run([sys.executable, "-m", "agiqa", "filter", "--input", str(tmp / "scored"), "--output",
                          str(tmp / "out"), "--keep", "quality_score => 2"], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "quality_score => 2" in out.stderr


def test_misaligned_images_fail_the_shard_never_mislabel(scored, tmp_path):
    from agiqa.api import filter as filter_

    tmp, rows = scored
    shuffled = dict(rows)
    shuffled["b.parquet"] = rows["b.parquet"][::-1]
    write_images(tmp_path / "other-images", shuffled)
    summary = filter_(config(tmp, images=str(tmp_path / "other-images"), write_rows=True,
                             runner={"kind": "local", "max_shard_attempts": 1}))
    assert [f["shard"] for f in summary.failed] == ["b.parquet"] and "not the scored rows" in summary.failed[0]["reason"]
    assert not (tmp / "out" / "rows" / "b.parquet").exists()
    assert json.loads((tmp / "out.agiqa" / "stats.json").read_text())["shards_not_committed"] == ["b.parquet"]


def test_score_on_the_way_then_filter_in_one_job(small_shards, tmp_path):
    from agiqa.api import filter as filter_
    from tests.runner.helpers import expected_scores, fake_config

    score = fake_config(small_shards, tmp_path / "scored").model_dump()
    summary = filter_({"output": str(tmp_path / "out"), "rules": ["top_fraction quality_score=0.25"],
                       "write_rows": True, "score": score, "runner": {"kind": "local"}, "progress": False})
    assert [p["stage"] for p in summary.passes] == ["score", "cutoff-histogram", "cutoff-bucket", "filter"]
    assert not summary.failed
    ranked = []
    for rel in ["a.parquet", "b.parquet", "sub/c.parquet", "sub/d.parquet"]:
        ids = pq.read_table(small_shards / rel).column("id").to_pylist()
        ranked += zip(expected_scores(small_shards / rel, "quality"), ids, strict=True)
    ranked.sort(key=lambda r: (-r[0], r[1]))
    assert sorted(read_dir(tmp_path / "out" / "keep").column("id").to_pylist()) == sorted(i for _, i in ranked[:10])
    assert read_dir(tmp_path / "out" / "rows").num_rows == 10  # images from the score job's input


def test_a_top_fraction_of_a_lower_is_better_method_keeps_its_lowest_scores(small_shards, tmp_path):
    """The direction comes from the method's ScoreSpec, carried in the score column's field metadata."""
    from agiqa.api import filter as filter_
    from agiqa.api import score as score_
    from agiqa.config.filter_job import FilterJobConfig
    from agiqa.workflows.filter import dry_run
    from tests.runner.helpers import expected_scores, fake_config

    cfg = fake_config(small_shards, tmp_path / "scored")
    cfg.method.lower_is_better = True
    score_(cfg)
    fcfg = {"input": str(tmp_path / "scored"), "output": str(tmp_path / "out"), "progress": False,
            "rules": ["top_fraction quality_score=0.25"], "runner": {"kind": "local"}}
    summary = filter_(fcfg)
    ranked = []
    for rel in ["a.parquet", "b.parquet", "sub/c.parquet", "sub/d.parquet"]:
        ids = pq.read_table(small_shards / rel).column("id").to_pylist()
        ranked += zip(expected_scores(small_shards / rel, "quality"), ids, strict=True)
    ranked.sort(key=lambda r: (r[0], r[1]))  # lowest first: the best of a lower-is-better score
    assert sorted(read_dir(tmp_path / "out" / "keep").column("id").to_pylist()) == sorted(i for _, i in ranked[:10])
    cut = summary.reduced["cutoff0-quality_score"]
    assert cut["descending"] is False and cut["value"] == pytest.approx(ranked[9][0])
    assert dry_run(FilterJobConfig(**{**fcfg, "output": str(tmp_path / "dry")}))["kept"] == 10


def test_filter_reads_and_writes_s3(s3_env, scored):
    import io

    from agiqa.api import filter as filter_

    tmp, rows = scored
    c = s3_env.client()
    bucket = s3_env.make_bucket()
    for rel in rows:
        c.upload_file(str(tmp / "scored" / rel), bucket, f"scored/{rel}")
    summary = filter_({**config(tmp), "input": f"s3://{bucket}/scored", "output": f"s3://{bucket}/out"})
    assert not summary.failed
    keys = [o["Key"] for o in c.list_objects_v2(Bucket=bucket, Prefix="out/keep/")["Contents"]]
    kept = [i for k in keys for i in pq.read_table(io.BytesIO(c.get_object(Bucket=bucket, Key=k)["Body"].read()))
            .column("id").to_pylist()]
    want = expected(rows, 2, 0.3)
    assert sorted(kept) == sorted(i for i, w in want.items() if w is None)
    stats = json.loads(c.get_object(Bucket=bucket, Key="out.agiqa/stats.json")["Body"].read())
    assert stats["kept"] == len(kept) and stats["shards"] == 5


def test_a_scored_img2dataset_shard_keeps_every_status_column_and_filters_as_the_dry_run_said(tmp_path):
    """img2dataset writes its own `status`; `score` keeps it as `input_status` beside its own `status`.
    `filter` then writes `status` too: the scorer's becomes `input2_status` (was: every shard failed
    with a KeyError while --dry-run promised the kept count)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from agiqa.api import filter as filter_
    from agiqa.api import filter_dry_run

    (tmp_path / "scored").mkdir()
    pq.write_table(pa.table({"id": list("abcd"), "input_status": ["success"] * 4,
                             "quality_score": pa.array([1.0, 2.0, 3.0, 4.0], pa.float32()),
                             "status": ["ok", "ok", "error", "ok"], "error": [None, None, "x", None]}),
                   tmp_path / "scored" / "s.parquet")
    cfg = config(tmp_path, rules=["quality_score >= 2"])
    promised = filter_dry_run(cfg)["kept"]
    summary = filter_(cfg)
    assert summary.failed == [] and summary.rows_by_status["kept"] == promised == 2  # c has status=error
    kept = pq.read_table(tmp_path / "out" / "keep" / "s.parquet")
    assert kept.column("input_status").to_pylist() == ["success"] * 2
    assert kept.column("input2_status").to_pylist() == ["ok", "ok"] and kept.column("status").to_pylist() == ["kept"] * 2


def test_each_manifest_counts_its_drops_by_reason_so_stats_read_no_rows(scored):
    from collections import Counter

    from agiqa.api import filter as filter_
    from tests.fixtures.state import state

    tmp, rows = scored
    filter_(config(tmp))
    manifests = sorted((state(tmp / "out") / "manifests").rglob("*.manifest.json"))
    assert len(manifests) == len(rows)
    for m in manifests:
        rel = str(m.relative_to(state(tmp / "out") / "manifests"))[: -len(".manifest.json")]
        drops = Counter(pq.read_table(tmp / "out" / "drop" / rel).column("reason").to_pylist())
        assert json.loads(m.read_text())["counts"].get("reason", {}) == dict(drops)  # an empty shard: none


def test_filter_with_score_runs_on_the_filters_runner_and_each_pass_reads_its_own_batches(small_shards, tmp_path,
                                                                                            caplog):
    from agiqa.config.filter_job import FilterJobConfig
    from agiqa.runner.job import Pass
    from agiqa.workflows.filter import build_filter_job
    from tests.runner.helpers import fake_config

    score = fake_config(small_shards, tmp_path / "scored", runner="ray", read_batch_rows=3).model_dump()
    cfg = FilterJobConfig(output=str(tmp_path / "out"), rules=["top_fraction quality_score=0.25"], score=score,
                          runner={"kind": "local", "max_shard_attempts": 5}, read_batch_rows=7, progress=False)
    job = build_filter_job(cfg)
    assert job.runner.kind == "local" and job.max_shard_attempts == 5 and job.read_batch_rows == 7
    passes = [p for p in job.passes if isinstance(p, Pass)]
    assert passes[0].read_batch_rows == 3 and passes[-1].read_batch_rows is None  # score's 3; the filter's 7
    assert "not used" in caplog.text
