"""Before a pass runs: check the roots, open the stores, list shards, and leave out those already done."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from agiqa.errors import DataError
from agiqa.runner.identity import refuse_other_identity
from agiqa.runner.job import Pass, ShardJob
from agiqa.runner.manifest import (
    find_manifest,
    identity_hash,
    is_committed,
    manifests_root,
    move_legacy_manifest,
    outputs_changed,
    read_manifest,
    shard_manifest_uri,
)
from agiqa.storage.base import ShardInfo


@dataclass
class PassPlan:
    """One pass, ready to run: its stores, its identity, and the shards still to do."""

    job: ShardJob
    pass_: Pass
    identity: dict
    identity_hash: str
    in_store: object
    out_store: object
    side_store: object = None
    todo: list[ShardInfo] = field(default_factory=list)
    skipped: list[ShardInfo] = field(default_factory=list)
    refused: list[tuple[ShardInfo, str]] = field(default_factory=list)  # unsafe relative names, with why
    sides: dict[str, ShardInfo] = field(default_factory=dict)  # relative name -> side shard
    #: Committed shards whose input shard is no longer listed (kept, reported).
    orphaned: list[str] = field(default_factory=list)
    #: Committed earlier, for another version of the input or another derived setting (a cascade's
    #: cutoff): done again.
    redone: list[str] = field(default_factory=list)
    #: Committed shards whose outputs are missing, truncated or changed (rel -> why): done again.
    damaged: dict[str, str] = field(default_factory=dict)

    def side_of(self, shard: ShardInfo) -> ShardInfo | None:
        return self.sides.get(shard.rel) if self.pass_.side_input else None

    def committed_manifest(self, shard: ShardInfo) -> dict | None:
        """The shard's manifest if it is committed for this stage identity and this input."""
        m = read_manifest(self.out_store, self.pass_.output, shard)
        return m if is_committed(m, self.identity_hash, shard, self.side_of(shard)) else None

    #: URIs of the manifests that exist (from listings), or None: look for each shard's where it may be.
    manifests: set[str] | None = None

    def manifest(self, shard: ShardInfo) -> tuple[dict | None, str | None]:
        return find_manifest(self.out_store, self.pass_.output, shard, self.manifests)


def plan_pass(job: ShardJob, p: Pass) -> PassPlan:
    """Fail fast on unreachable roots, then split the input shards into to-do and already committed."""
    from agiqa.storage import check_access
    from agiqa.storage.layout import data_shards, is_own_work, state_root
    from agiqa.storage.roots import check_separate
    from agiqa.storage.temps import clean_temps
    from agiqa.storage.uri import is_s3

    check_access(p.input, p.output, job.storage, ride_outages=True)  # `run_job` failed fast before the lease
    if not is_own_work(p.input, p.output):  # the state root is written too (never its `work/`)
        check_separate(p.input, state_root(p.output), what="input")
    if p.side_input:
        check_separate(p.side_input, p.output, what="side input")
    if not is_s3(p.output):  # under the lease, before this pass's writers: what killed jobs left goes
        clean_temps(p.output)
    identity = p.stage.identity()
    plan = PassPlan(job, p, identity, identity_hash(identity), job.open_store(p.input, job.storage),
                    job.open_store(p.output, job.storage))
    listed = data_shards(plan.in_store, p.input)  # an agiqa 0.1 output's `_agiqa/` is never input
    if not listed:
        raise DataError(f"no *.parquet shards under {p.input} (searched recursively){_what_is_there(p.input)}")
    why = [refusal(s) for s in listed]
    plan.refused = [(s, w) for s, w in zip(listed, why, strict=True) if w]
    shards = [s for s, w in zip(listed, why, strict=True) if not w]
    if p.side_input:
        plan.side_store = job.open_store(p.side_input, job.storage)
        plan.sides = {s.rel: s for s in plan.side_store.list_shards(p.side_input)}
    if job.overwrite:
        plan.todo = shards
        return plan
    plan.manifests = manifest_locations(plan.out_store, p.output)
    # Manifest reads are independent round trips: overlap them on S3 (1M shards in minutes, not hours);
    # on a local disk a thread per read only costs (a future per shard: 10^5 of them are seconds).
    from agiqa.storage.uri import is_s3

    with ThreadPoolExecutor(max_workers=32, thread_name_prefix="agiqa-plan") as pool:
        each = pool.map if is_s3(p.output) else map
        found = list(each(plan.manifest, shards))
        refuse_other_identity(p, identity, [(s, m) for s, (m, _) in zip(shards, found, strict=True) if m])
        committed = [is_committed(m, plan.identity_hash, s, plan.side_of(s)) for s, (m, _) in zip(shards, found,
                                                                                                    strict=True)]
        # a committed shard is verified before it is skipped: its outputs as recorded (a stat or HEAD each)
        changed = list(each(lambda t: outputs_changed(plan.out_store, p.output, t[1][0]) if t[0] else None,
                                zip(committed, found, strict=True)))
        legacy = []
        for s, (m, where), ok, why in zip(shards, found, committed, changed, strict=True):
            if ok and why is None:
                plan.skipped.append(s)
                if where != shard_manifest_uri(p.output, s):
                    legacy.append((s, m, where))
            else:
                plan.todo.append(s)
                if why is not None:
                    plan.damaged[s.rel] = why
                elif m is not None:
                    plan.redone.append(s.rel)
        list(each(lambda t: move_legacy_manifest(plan.out_store, p.output, *t), legacy))
    plan.orphaned = orphaned_outputs(plan.out_store, p.output, {s.rel for s in listed})
    return plan


def manifest_locations(out_store, output: str) -> set[str] | None:
    """Every manifest's URI under `output`'s state root and where older agiqa wrote them, from a few
    listings (one LIST per 1000 on S3) instead of a read per shard: a fresh output of 10^5 shards
    plans in seconds. None when a listing fails: then each shard's manifest is read where it may be."""
    import os

    from agiqa.runner.manifest import location_key
    from agiqa.storage.base import StorageError
    from agiqa.storage.layout import LEGACY_STATE_DIR, MANIFEST_SUFFIX
    from agiqa.storage.uri import is_s3, join

    found: set[str] = set()
    for root in (manifests_root(output), join(output, LEGACY_STATE_DIR + "/manifests"), output):
        try:
            found.update(location_key(m.uri) for m in out_store.list_files(root, (MANIFEST_SUFFIX,)))
        except (StorageError, FileNotFoundError):
            if is_s3(root) or os.path.exists(root):
                return None  # a listing that failed, not a folder that is not there
    return found


def refusal(shard: ShardInfo) -> str | None:
    """Why a listed shard is never run (known from the listing alone), or None."""
    from agiqa.storage.roots import unsafe_name

    return unsafe_name(shard.rel) or ("an empty (zero-byte) file, not Parquet" if shard.size == 0 else None)


def orphaned_outputs(out_store, output: str, input_rels: set[str]) -> list[str]:
    """Relative names of shards committed under `output` whose input shard is no longer listed."""
    from agiqa.storage.base import StorageError

    suffix = ".manifest.json"
    try:
        names = [m.rel[: -len(suffix)] for m in out_store.list_files(manifests_root(output), (suffix,))]
    except (StorageError, FileNotFoundError):  # no state root yet: nothing committed
        return []
    return sorted(n for n in names if n not in input_rels)


def _what_is_there(root: str) -> str:
    """For a local folder without shards: what it does hold, so a mistyped path is seen at once."""
    from pathlib import Path

    from agiqa.storage.uri import is_s3

    if is_s3(root):
        return "; check the bucket and prefix"
    files = [f for f in Path(root).rglob("*") if f.is_file()] if Path(root).is_dir() else []
    if not files:
        return "; the folder is empty"
    kinds = sorted({f.suffix or f.name for f in files})[:5]
    hint = ("; `agiqa ingest` turns images with a table, sidecars or tars into shards"
            if set(kinds) & {".csv", ".tsv", ".jsonl", ".json", ".tar", ".png", ".jpg", ".jpeg", ".webp", ".txt"}
            else "")
    return f"; it holds {len(files)} other file(s) ({', '.join(kinds)}){hint}"
