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
    progress = Progress(total=1, enabled=True, every_s=0.0)
    assert progress.bar is None  # not a terminal: log lines only
    store = LocalStore(str(tmp_path / "out"))  # opened for the output: writes go only there
    shard = store.list_shards(str(tmp_path / "in"))[0]
    io = ShardIO(ScoreStage(FakeMethod()), str(tmp_path / "out"), store, store, read_batch_rows=4,
                 on_rows=progress.add_rows)
    with caplog.at_level(logging.INFO, logger="agiqa.progress"):
        run_shard(shard, io)
        progress.shard_done()
    lines = [r.getMessage() for r in caplog.records]
    assert [ln.split(",")[:2] for ln in lines[:3]] == [["shards 0/1", " rows 4"], ["shards 0/1", " rows 8"],
                                                      ["shards 0/1", " rows 10"]]
    assert lines[-1].startswith("shards 1/1, rows 10")
    assert not any("\x1b" in ln or "\r" in ln for ln in lines)
