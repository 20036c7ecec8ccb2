"""A disk that fills up during a job: every shard says so in one line naming its output, the summary
is written if it fits (or its failure said in one line), and no temp file is left behind.

The disk is real: a 300 KiB tmpfs mounted for the test (needs root and mount rights; skipped
elsewhere)."""

from __future__ import annotations

import base64
import io
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def small_disk(tmp_path):
    d = tmp_path / "disk"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(d)], capture_output=True)
    if r.returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


def test_a_full_disk_is_said_in_one_line_per_shard_and_leaves_no_temp_files(small_disk, tmp_path):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    rnd = random.Random(0)
    (tmp_path / "in").mkdir()
    for s in range(6):  # ~90 KiB of incompressible prompts per shard: the 300 KiB disk fills up
        pq.write_table(pa.table({"id": [f"{s}-{i}" for i in range(300)], "image": [buf.getvalue()] * 300,
                                 "prompt": [base64.b64encode(rnd.randbytes(225)).decode() for _ in range(300)]}),
                       tmp_path / "in" / f"s{s}.parquet", compression="none")
    cli = "import sys, agiqa.testing.fakes; from agiqa.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-c", cli, "score", "--input", str(tmp_path / "in"), "--output",
                        str(small_disk / "out"), "--method", "fake", "--runner", "local", "--no-progress"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    failed = [line for line in r.stdout.splitlines() if line.strip().startswith("FAILED")]
    assert failed and all("no space left on the device while writing" in line for line in failed), r.stdout
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert not [p for p in small_disk.rglob("*") if p.name.endswith(".tmp")]
    summary = small_disk / "out.agiqa" / "job_summary.json"
    assert summary.is_file() or "the summary was not written: " in r.stdout
