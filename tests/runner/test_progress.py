"""Progress moves as batches finish, not only when a shard commits; piped output has no bar."""

import logging

from agiqa.runner.progress import Progress
from agiqa.runner.shard import ShardIO
from agiqa.runner.stream import run_shard
from agiqa.stages.score import ScoreStage
from agiqa.storage.local import LocalStore
from agiqa.testing.fakes import FakeMethod
from tests.fixtures.shards import write_shard


def test_rows_are_reported_batch_by_batch_within_a_shard(tmp_path, caplog):
    write_shard(tmp_path / "in" / "s.parquet", list(range(10)))
    progress = Progress(total=1, enabled=True, every_s=0.0, heartbeat=False)
    assert progress.bar is None  # not a terminal: log lines only
    progress.started()
    store = LocalStore(str(tmp_path / "out"))  # opened for the output: writes go only there
    shard = store.list_shards(str(tmp_path / "in"))[0]
    io = ShardIO(ScoreStage(FakeMethod()), str(tmp_path / "out"), store, store, read_batch_rows=4,
                 on_rows=progress.add_rows)
    with caplog.at_level(logging.INFO, logger="agiqa.progress"):
        report = run_shard(shard, io)
        progress.shard_done(rows=report.rows_out)  # as the ledger settles it
    lines = [r.getMessage() for r in caplog.records]
    assert [ln.split(",")[:2] for ln in lines[:3]] == [["shards 0/1", " rows 4"], ["shards 0/1", " rows 8"],
                                                      ["shards 0/1", " rows 10"]]
    assert lines[-1].startswith("shards 1/1, rows 10")
    assert not any("\x1b" in ln or "\r" in ln for ln in lines)


def test_a_heartbeat_line_comes_while_nothing_finishes(caplog):
    """One long batch (or a model loading) must not look like a hang: lines keep coming on their own."""
    import time

    with caplog.at_level(logging.INFO, logger="agiqa.progress"):
        progress = Progress(total=2, enabled=True, every_s=0.2)
        progress.started()
        time.sleep(0.9)
        progress.close()
    assert len(caplog.records) >= 3
    assert all(r.getMessage().startswith("shards 0/2, rows 0") for r in caplog.records)


def test_the_eta_comes_from_rows_before_any_shard_commits():
    progress = Progress(total=4, enabled=True, heartbeat=False)
    assert progress.line() == "shards 0/4, starting (0 s)"
    progress.started()
    progress.t0 -= 10.0  # 10 s of work
    progress.shard_opened(100)  # a 100-row shard: the pass is about 400 rows
    progress.rows = 50  # 5 rows/s
    assert progress.line() == "shards 0/4, rows 50, 5.0 rows/s, ETA 70 s"


def test_the_final_line_counts_settled_rows_not_rows_seen(caplog):
    """A shard retried after some batches had its rows seen twice; the final line agrees with the summary."""
    progress = Progress(total=2, enabled=True, heartbeat=False)
    progress.started()
    progress.add_rows(6)  # an attempt that failed after 6 rows
    progress.add_rows(10)  # the retry: the whole shard
    progress.shard_done(rows=10)
    with caplog.at_level(logging.INFO, logger="agiqa.progress"):
        progress.shard_done(failed=True)
    assert caplog.records[-1].getMessage().startswith("shards 2/2 (1 failed), rows 10, ")
