"""Which format an input is, and which columns of a table hold what."""

from __future__ import annotations

from agiqa.errors import ConfigError, DataError

FILE_COLUMNS = ("file_name", "file", "filename", "image", "path", "image_path")
PROMPT_COLUMNS = ("prompt", "caption", "text")
#: A table at the input's top level with one of these names is used without --table (Hugging Face
#: imagefolder's convention).
DEFAULT_TABLES = ("metadata.csv", "metadata.jsonl", "metadata.parquet")


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
