"""The cascade: a cheap prefilter pass, an optional global cutoff, the main method on the rows that pass.

Both methods are FakeMethod (scores computable from the input alone); the main one is shifted by +10
so every output value says which method produced it.
"""

import json
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from tests.fixtures.state import state
from tests.runner.helpers import expected_scores

SHARDS = ["a.parquet", "b.parquet", "sub/c.parquet", "sub/d.parquet"]


def cascade_config(data, out, prefilter: dict, **main):
    from agiqa.config import ScoreJobConfig

    return ScoreJobConfig(input=str(data), output=str(out), aspects=["quality", "authenticity"],
                          method={"name": "fake", "shift": 10.0, **main},
                          prefilter={"method": {"name": "fake"}, **prefilter},
                          runner={"kind": "local"}, progress=False, read_batch_rows=3)


def cheap(data):
    """id -> cheap quality score, from the input alone."""
    return {i: s for rel in SHARDS
            for i, s in zip(pq.read_table(data / rel).column("id").to_pylist(), expected_scores(data / rel, "quality"),
                            strict=True)}


def output_rows(out):
    return {r["id"]: r for rel in SHARDS for r in pq.read_table(out / rel).to_pylist()}


def test_threshold_routes_exactly_the_rows_at_or_above_it(small_shards, tmp_path):
    import agiqa.testing.fakes  # noqa: F401
    from agiqa.api import score

    want = cheap(small_shards)
    ordered = sorted(want.values())
    # between two stored values: a threshold equal to a score would test float32 rounding, not routing
    threshold = (ordered[len(want) // 3 - 1] + ordered[len(want) // 3]) / 2
    summary = score(cascade_config(small_shards, tmp_path / "out", {"thresholds": {"quality": threshold}}))
    rows = output_rows(tmp_path / "out")
    routed = {i for i, s in want.items() if s >= threshold}
    assert {i for i, r in rows.items() if r["status"] == "ok"} == routed
    assert {i for i, r in rows.items() if r["status"] == "prefiltered"} == set(want) - routed
    for i, r in rows.items():
        assert r["prefilter_quality_score"] == pytest.approx(want[i], abs=1e-4)
        # routed rows carry the main method's score (+10), prefiltered ones keep the cheap score
        assert r["quality_score"] == pytest.approx(want[i] + (10.0 if i in routed else 0.0), abs=1e-4)
        assert r["quality_rating"] is not None
        # and each row says whose score it holds: the main method's, or the prefilter's
        assert r["quality_score_source"] == ("fake" if i in routed else "prefilter:fake")
        assert r["authenticity_score_source"] == ("fake" if i in routed else None)  # the prefilter never scored it
        assert (r["authenticity_score"] is None) == (i not in routed)
    assert summary.rows_by_status == {"ok": len(routed), "prefiltered": 40 - len(routed)}
    assert summary.passes[0]["rows_by_status"] == {"ok": 40} and summary.passes[0]["stage"] == "prefilter"
    man = json.loads((tmp_path / "out.agiqa/manifests/a.parquet.manifest.json").read_text())
    assert sum(man["rows_by_status"].values()) == 10 and set(man["rows_by_status"]) <= {"ok", "prefiltered"}


def test_top_fraction_is_global_across_shards_of_different_sizes(tmp_path):
    import agiqa.testing.fakes  # noqa: F401
    from agiqa.api import score
    from tests.fixtures.shards import write_shard

    data = tmp_path / "in"
    sizes = {"a.parquet": 3, "b.parquet": 17, "sub/c.parquet": 1, "sub/d.parquet": 9}
    for k, (rel, n) in enumerate(sizes.items()):
        write_shard(data / rel, [f"{rel}#{i}" for i in range(n)], [f"p {k}-{i}" for i in range(n)])
    want = cheap(data)
    summary = score(cascade_config(data, tmp_path / "out", {"top_fraction": {"quality": 0.25}}))
    ranked = sorted(want, key=lambda i: (-round(want[i], 4), i))  # scores as stored (float32), ties by id
    keep = -(-len(want) * 25 // 100)  # ceil(0.25 * 30) = 8
    rows = output_rows(tmp_path / "out")
    assert {i for i, r in rows.items() if r["status"] == "ok"} == set(ranked[:keep])
    assert summary.reduced["prefilter_cutoffs"]["quality"]["keep"] == keep
    assert json.loads((tmp_path / "out.agiqa/reduce/prefilter_cutoffs.json").read_text())["quality"]["total"] == 30


KILLED_RUN = textwrap.dedent("""
    import sys
    import agiqa.testing.fakes
    from agiqa.api import score
    from tests.stages.test_cascade import cascade_config
    from pathlib import Path
    data, out, marker = map(Path, sys.argv[1:4])
    score(cascade_config(data, out, {"thresholds": {"quality": 1.0}}, die_on="prompt 2-7", die_marker=str(marker)))
""")


def test_a_killed_cascade_resumes_exactly_once_without_redoing_the_cheap_pass(small_shards, tmp_path):
    import agiqa.testing.fakes  # noqa: F401
    from agiqa.api import score

    out, marker = tmp_path / "out", tmp_path / "died"
    proc = subprocess.run([sys.executable, "-c", KILLED_RUN, str(small_shards), str(out), str(marker)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and marker.exists()  # killed inside pass 2 (shard sub/c.parquet)
    assert len(list((state(out) / "prefilter.agiqa/manifests").rglob("*.json"))) == 4  # pass 1 committed
    resumed = score(cascade_config(small_shards, out, {"thresholds": {"quality": 1.0}}))
    assert resumed.passes[0]["shards_skipped"] == 4 and resumed.passes[0]["shards_done"] == 0
    assert resumed.passes[1]["shards_done"] + resumed.passes[1]["shards_skipped"] == 4
    assert resumed.passes[1]["shards_done"] >= 1
    clean = tmp_path / "clean"
    score(cascade_config(small_shards, clean, {"thresholds": {"quality": 1.0}}))
    for rel in SHARDS:  # every row exactly once, as an uninterrupted run writes it
        assert pq.read_table(out / rel).to_pylist() == pq.read_table(clean / rel).to_pylist()


def test_clip_prefilter_on_ray_runs_each_stage_on_its_own_pool(ray_local, tiny_clip_dir, small_shards, tmp_path):
    """The real cheap method (clip-agiqa) in front of the main one, on a local Ray: two pools, the
    global cutoff between them, every row once."""
    import agiqa.testing.fakes  # noqa: F401
    from agiqa.api import score
    from agiqa.config import ScoreJobConfig

    cfg = ScoreJobConfig(input=str(small_shards), output=str(tmp_path / "out"), aspects=["quality"],
                         method={"name": "fake", "shift": 10.0},
                         prefilter={"method": {"name": "clip-agiqa", "model": str(tiny_clip_dir)},
                                    "top_fraction": {"quality": 0.3}},
                         runner={"kind": "ray"}, resources={"prefilter": {"num_actors": 2, "num_cpus": 1}},
                         progress=False)
    summary = score(cfg)
    assert summary.stages == ["prefilter", "cutoff-histogram", "cutoff-bucket", "score"]  # the cutoff: partial passes
    assert summary.shards_failed == 0
    assert summary.rows_by_status == {"ok": 12, "prefiltered": 28}  # ceil(0.3 * 40) routed
    rows = output_rows(tmp_path / "out")
    cut = summary.reduced["prefilter_cutoffs"]["quality"]
    for r in rows.values():
        v = r["prefilter_quality_score"]
        routed = v > cut["value"] or (v == cut["value"] and r["id"] <= cut["id"])
        assert (r["status"] == "ok") == routed
