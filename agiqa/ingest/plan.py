"""Which format an input is, and its plan of output shards (by the format's own planner)."""

from __future__ import annotations

from agiqa.errors import ConfigError, DataError
from agiqa.ingest.check import IMAGE_SUFFIXES
from agiqa.ingest.formats import DEFAULT_TABLES


def plan_ingest(cfg, in_store):
    """The `IngestPlan` for `cfg.input`: its format (given, or told from what the input holds)."""
    fmt = cfg.format
    if fmt == "auto":
        fmt = detect_format(cfg, in_store)
    if cfg.table and fmt != "folder":
        raise ConfigError(f"--table is for a folder of images; the input is {fmt}")
    if fmt == "folder":
        from agiqa.ingest.folder import plan_folder

        return plan_folder(cfg, in_store)
    if fmt == "webdataset":
        from agiqa.ingest.tars import plan_tars

        return plan_tars(cfg, in_store)
    from agiqa.ingest.tables import plan_parquet

    return plan_parquet(cfg, in_store)


def detect_format(cfg, in_store) -> str:
    if cfg.table:
        return "folder"
    files = [f for f in in_store.list_files(cfg.input, (".tar", ".parquet", *IMAGE_SUFFIXES))
             if f.rel not in DEFAULT_TABLES]
    if any(f.rel.lower().endswith(".tar") for f in files):
        return "webdataset"
    if any(f.rel.lower().endswith(".parquet") for f in files):
        return "parquet"
    if files:
        return "folder"
    raise DataError(f"nothing to ingest under {cfg.input}: no images ({', '.join(IMAGE_SUFFIXES)}), "
                    "*.tar or *.parquet files")
