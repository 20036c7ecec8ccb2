"""Reading one Parquet file whole from an open file object.

`pyarrow.parquet.read_table(file_object)` goes through `pyarrow.dataset`, whose thread pool makes
a process abort at exit about one run in three with pyarrow 26 ("terminate called without an
active exception", exit 134: seen on `agiqa filter` refusing a setup, after its one-line error).
`ParquetFile(f).read()` reads the same table without it, so every whole-file read goes through here.
"""

from __future__ import annotations


def read_table(f, columns: list[str] | None = None):
    """The file's rows (only `columns`, if given) as a `pyarrow.Table`."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(f).read(columns=columns)
