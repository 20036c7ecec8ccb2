"""Ingest killed mid-run (hard, between a shard's commit and its manifest), then rerun: committed shards
are kept as they are, the rest written, and every image lands exactly once."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow.dataset as pads

from tests.fixtures.shards import png
from tests.fixtures.state import state

# Runs `agiqa ingest` in a child process that dies (os._exit, no cleanup) when the manifest of the
# third output shard is about to be written: that shard's Parquet is committed, its manifest is not.
# (Ingest commits through the runner, so the runner's manifest is where it dies.)
KILLER = """
import os, sys
import agiqa.runner.shard as shard
real = shard.build_manifest
def build_manifest(stage_name, identity, ident_hash, s, *rest):
    if s.rel == "part-00002.parquet":
        os._exit(9)
    return real(stage_name, identity, ident_hash, s, *rest)
shard.build_manifest = build_manifest
from agiqa.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_killed_ingest_resumes_without_loss_or_duplicates(tmp_path):
    d = tmp_path / "images"
    d.mkdir()
    files = {f"{i:03d}.png": png(i, 8, 8) for i in range(10)}
    for rel, data in files.items():
        (d / rel).write_bytes(data)
        (d / rel.replace(".png", ".txt")).write_text(f"prompt {rel}")
    out = tmp_path / "out"
    args = ["ingest", "--input", str(d), "--output", str(out), "--rows-per-shard", "2", "--workers", "1"]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    killed = subprocess.run([sys.executable, "-c", KILLER, *args], env=env, capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr
    manifests = state(out) / "manifests"
    assert sorted(p.name for p in manifests.iterdir()) == ["part-00000.parquet.manifest.json",
                                                            "part-00001.parquet.manifest.json"]
    assert (out / "part-00002.parquet").exists()  # committed, but without a manifest: not done
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("part-0000[01].parquet")}

    rerun = subprocess.run([sys.executable, "-m", "agiqa", *args], env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "3 written, 2 already done" in rerun.stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-0000[01].parquet")} == before  # not rewritten
    rows = pads.dataset(str(out), format="parquet").to_table().to_pylist()
    assert sorted(r["id"] for r in rows) == sorted(files)  # each image exactly once
    assert all(r["image"] == files[r["id"]] and r["prompt"] == f"prompt {r['id']}" for r in rows)
    assert not [p for p in out.rglob("*.tmp")]  # nothing half-written visible... or left behind
