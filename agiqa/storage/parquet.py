"""Reading one Parquet file whole from an open file object.

`pyarrow.parquet.read_table(file_object)` goes through `pyarrow.dataset`, whose thread pool makes
a process abort at exit about one run in three with pyarrow 26 ("terminate called without an
active exception", exit 134: seen on `agiqa filter` refusing a setup, after its one-line error).
`ParquetFile(f).read()` reads the same table without it, so every whole-file read goes through here,
single-threaded: reading from a Python file object with Arrow's CPU pool still aborted at exit, rarely
(1 process in 12 once in CI, 1 in 60 on a loaded machine; apache/arrow#50482 describes the same pool
teardown through Python file handles, avoided by `use_threads=False`). Decoding a shard from a Python
file object is bound by the GIL-held reads anyway.
"""

from __future__ import annotations


def read_table(f, columns: list[str] | None = None):
    """The file's rows (only `columns`, if given) as a `pyarrow.Table`."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(f).read(columns=columns, use_threads=False)
