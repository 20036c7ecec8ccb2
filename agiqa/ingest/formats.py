"""Which format an input is, and which columns of a table hold what."""

from __future__ import annotations

from agiqa.errors import ConfigError, DataError
from agiqa.ingest.check import IMAGE_SUFFIXES

FILE_COLUMNS = ("file_name", "file", "filename", "image", "path", "image_path")
PROMPT_COLUMNS = ("prompt", "caption", "text")


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
    from agiqa.ingest.folder import DEFAULT_TABLES

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


def pick_column(names, given: str | None, candidates: tuple[str, ...], what: str, where: str,
                required: bool = True) -> str | None:
    """`given` if `names` has it (else ConfigError), or the first of `candidates` present."""
    if given is not None:
        if given not in names:
            raise ConfigError(f"{where} has no column {given!r} ({what}); it has {list(names)}")
        return given
    for c in candidates:
        if c in names:
            return c
    if required:
        raise ConfigError(f"{where} has none of the columns {list(candidates)} ({what}); it has {list(names)}; "
                          f"name it with --{what.replace(' ', '-')}")
    return None


def base_fields(extras_schema, renamed: dict[str, str]):
    """id, image, prompt, then the extra columns (those named id/image/prompt get `source_`)."""
    import pyarrow as pa

    fields = [pa.field("id", pa.string()), pa.field("image", pa.binary()), pa.field("prompt", pa.string())]
    for f in extras_schema:
        name = renamed.get(f.name, f.name)
        # a column null in every row of one input (img2dataset's error_message when nothing failed) would
        # be typed `null` there and `string` elsewhere, and the shards would no longer read as one dataset
        fields.append(f.with_name(name).with_type(pa.string()) if pa.types.is_null(f.type) else f.with_name(name))
    return pa.schema(fields)


def extra_names(names, used: set[str]) -> tuple[list[str], dict[str, str]]:
    """The columns kept as extras (all but `used`), and their renames away from id/image/prompt."""
    keep = [n for n in names if n not in used]
    renamed = {n: "source_" + n for n in keep if n in ("id", "image", "prompt")}
    return keep, renamed


def duplicates(values) -> list:
    seen, dups = set(), []
    for v in values:
        if v in seen:
            dups.append(v)
        seen.add(v)
    return dups


def refuse_duplicates(values, what: str) -> None:
    dups = duplicates(values)
    if dups:
        shown = ", ".join(repr(d) for d in dups[:5])
        raise DataError(f"{len(dups)} duplicate {what} ({shown}{', ...' if len(dups) > 5 else ''}): ids must be "
                        "unique across the whole input")
