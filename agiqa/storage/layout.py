"""Where a job keeps its own state: beside its output, never inside it.

An output root holds scored rows and nothing else, because the readers people point at it read
everything under it: polars' `read_parquet(OUT)` fails on any file that is not Parquet (even
Spark's `_SUCCESS`), DuckDB's `read_parquet('OUT/**/*.parquet')` and `read_parquet('OUT')` read
hidden and `_`-prefixed folders alike, and `datasets.load_dataset("parquet", data_dir=OUT)` reads
`_`-prefixed ones. So manifests, job summaries, reduce results and a cascade's internal pass live
in the output's *state root*, `<OUT>.agiqa/`, a sibling named after it (on S3: the key prefix
`<prefix>.agiqa/`). It is derived from the output alone, so every job kind (score, filter, audit,
eval, ingest) finds a job's state from the output path the user already has.

Outputs written by agiqa 0.1 kept their state inside, in `<OUT>/_agiqa/`: it is still read
(manifests), never listed as data, and the job removes it once it has finished (the summary says).
"""

from __future__ import annotations

import os

from agiqa.errors import ConfigError
from agiqa.storage.uri import is_s3, join, split_s3

STATE_SUFFIX = ".agiqa"
#: The folder inside an output root where agiqa 0.1 kept its state.
LEGACY_STATE_DIR = "_agiqa"


def state_root(output: str) -> str:
    """The state root of output root `output`: `<output>.agiqa` beside it."""
    check_has_parent(output)
    output = str(output)
    if is_s3(output):
        return output.rstrip("/") + STATE_SUFFIX
    return os.path.normpath(os.path.abspath(output)) + STATE_SUFFIX


def state_uri(output: str, rel: str) -> str:
    """`rel` (e.g. `manifests/a.parquet.manifest.json`, `job_summary.json`) inside the state root."""
    return join(state_root(output), rel)


def log_roots(what: str, input: str, output: str) -> None:
    """A job's first log line: its roots as absolute paths, and where its state goes (`--output .`
    keeps the state in `../<name>.agiqa`: said here, not found later)."""
    import logging

    def shown_root(root: str) -> str:
        return str(root) if is_s3(str(root)) else os.path.normpath(os.path.abspath(root))

    logging.getLogger("agiqa").info("%s %s -> %s (its state: %s)", what, shown_root(input), shown_root(output),
                                    state_root(output))


def check_has_parent(output: str) -> None:
    """ConfigError for an output with no place beside it (a bucket's or a filesystem's root)."""
    output = str(output)
    if is_s3(output):
        _, key = split_s3(output)
        if not key.strip("/"):
            raise ConfigError(f"output {output} is a bucket's root: agiqa keeps a job's state beside its "
                              f"output, so name a prefix (e.g. {output.rstrip('/')}/scored)")
    elif os.path.dirname(os.path.normpath(os.path.abspath(output))) == os.path.normpath(os.path.abspath(output)):
        raise ConfigError(f"output {output} is a filesystem root: agiqa keeps a job's state beside its output, "
                          "so name a folder inside it")


def state_folder(rel: str) -> str | None:
    """The state folder a relative name lies in (`OUT.agiqa` or an agiqa 0.1 `_agiqa`, at any depth,
    as the part of `rel` up to it), or None for a name that can be data."""
    parts = rel.split("/")
    for i, part in enumerate(parts[:-1]):
        if part == LEGACY_STATE_DIR or (part.endswith(STATE_SUFFIX) and len(part) > len(STATE_SUFFIX)):
            return "/".join(parts[: i + 1])
    return None


def data_shards(store, root: str) -> list:
    """The `*.parquet` shards under `root` that are data: nothing inside a job's state root.

    A folder given as input may hold an output and its state root side by side (`OUT/` and
    `OUT.agiqa/`, whose cascade pass `prefilter/*.parquet` has other columns and the same rows again),
    or an agiqa 0.1 output with its `_agiqa/`: those folders are left out, with one warning naming them.
    """
    shards, skipped = [], {}
    for s in store.list_shards(root):
        if (folder := state_folder(s.rel)) is None:
            shards.append(s)
        else:
            skipped[folder] = skipped.get(folder, 0) + 1
    if skipped:
        _warn_skipped(root, skipped)
    return shards


_warned: set[tuple[str, tuple[str, ...]]] = set()


def _warn_skipped(root: str, skipped: dict[str, int]) -> None:
    """One warning per root and set of skipped folders in a process (a job lists its input more than once)."""
    import logging

    key = (str(root), tuple(sorted(skipped)))
    if key in _warned:
        return
    _warned.add(key)
    # repr-quoted when a name is not printable (a newline must not forge a log line; `names.shown`'s rule,
    # not imported: names imports this module)
    names = ", ".join(f"{f if f.isprintable() else repr(f)}/ ({n} shard(s))" for f, n in sorted(skipped.items()))
    logging.getLogger(__name__).warning("%s: left out agiqa state folder(s), not data: %s", root, names)


MANIFESTS_DIR = "manifests"
MANIFEST_SUFFIX = ".manifest.json"


def committed_shards(store, root: str) -> list:
    """The shards under `root` as a reader should see them (`eval`, `filter`, `audit`, reduces).

    Where `root` is a job's output (its state root holds manifests), the shards the manifests
    name, in name order: a file no manifest names (a write killed before its commit, a stray
    copy) is left out and logged, and a shard a manifest names but the store lacks is a DataError
    (results lost: rerun the job that wrote them). Any other folder: every `*.parquet` in it.
    """
    import logging
    from concurrent.futures import ThreadPoolExecutor

    from agiqa.errors import DataError
    from agiqa.storage.base import StorageError

    listed = data_shards(store, root)
    try:
        manifests = store.list_files(state_uri(root, MANIFESTS_DIR), (MANIFEST_SUFFIX,))
    except (StorageError, FileNotFoundError):
        manifests = []
    if not manifests:
        return listed
    with ThreadPoolExecutor(max_workers=32, thread_name_prefix="agiqa-manifests") as pool:
        found = list(pool.map(lambda m: store.read_json(m.uri), manifests))
    by_rel = {s.rel: s for s in listed}
    named, missing, resized = set(), [], []
    for m in found:
        for rel, size in _output_rels(m, by_rel):
            (named.add if rel in by_rel else missing.append)(rel)
            if rel in by_rel and size is not None and by_rel[rel].size != size:
                resized.append(f"{rel!r} has {by_rel[rel].size} bytes, {size} when committed")
    if missing:
        raise DataError(f"{len(missing)} committed shard(s) under {root} are missing (first: {missing[0]!r}); "
                        "rerun the job that wrote them (it redoes missing shards) or pass --overwrite there")
    if resized:
        raise DataError(f"{len(resized)} committed shard(s) under {root} changed since their commit (first: "
                        f"{resized[0]}); rerun the job that wrote them (it redoes them)")
    stray = [s for rel, s in by_rel.items() if rel not in named]
    if stray:
        logging.getLogger(__name__).warning(
            "%d shard(s) under %s are not committed by the job that wrote it (left out; first: %r)",
            len(stray), root, stray[0].rel)
    return [s for rel, s in by_rel.items() if rel in named]


def _output_rels(manifest: dict | None, listed: dict) -> list[str]:
    """(relative name under the output root, recorded size or None) of the outputs a manifest names: `rel`
    (since 0.2), else the listed name its URI ends with, else the URI's tail as the shard's name
    (reported missing). Stored URIs are not compared whole: a local one may be relative to another
    working folder."""
    if not manifest:
        return []
    outs = [o for o in manifest.get("outputs") or [] if o.get("uri")]
    if not outs and manifest.get("output"):
        outs = [{"uri": manifest["output"], "rel": manifest.get("output_rel"), "size": manifest.get("output_size")}]
    rels = []
    for o in outs:
        if o.get("rel"):
            rels.append((o["rel"], o.get("size")))
            continue
        parts = str(o["uri"]).replace("\\", "/").split("/")
        tails = ["/".join(parts[-k:]) for k in range(1, len(parts) + 1)]
        rels.append((next((t for t in reversed(tails) if t in listed), manifest.get("shard") or tails[0]), o.get("size")))
    return rels


#: Where a job keeps inputs it wrote for itself (ingest's work lists: `agiqa.ingest.worklist`), in the
#: state root. A pass may read a root under here although it lies beside its output: the runner writes
#: only `manifests/`, `reduce/`, `runs/` and top-level files of the state root, never under `work/`.
WORK_DIR = "work"


def work_root(output: str, name: str) -> str:
    """`<output>.agiqa/work/<name>`: a job's own input root beside `output`."""
    return state_uri(output, f"{WORK_DIR}/{name}")


def is_own_work(root: str, output: str) -> bool:
    """True when `root` lies under `output`'s `work/` folder in its state root (see `WORK_DIR`)."""
    try:
        work = state_uri(output, WORK_DIR)
    except ConfigError:
        return False
    root = str(root)
    if is_s3(root) != is_s3(work):
        return False
    if is_s3(root):
        return root.rstrip("/").startswith(work.rstrip("/") + "/")
    return os.path.realpath(root).startswith(os.path.realpath(work).rstrip(os.sep) + os.sep)
