"""Before a pass runs: check the roots, open the stores, list shards, and leave out those already done."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from agiqa.errors import DataError
from agiqa.runner.job import Pass, ShardJob
from agiqa.runner.manifest import identity_hash, is_committed, read_manifest
from agiqa.storage.base import ShardInfo

BOOKKEEPING = "_agiqa"


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

    def side_of(self, shard: ShardInfo) -> ShardInfo | None:
        return self.sides.get(shard.rel) if self.pass_.side_input else None

    def committed_manifest(self, shard: ShardInfo) -> dict | None:
        """The shard's manifest if it is committed for this stage identity and this input."""
        m = read_manifest(self.out_store, self.pass_.output, shard)
        return m if is_committed(m, self.identity_hash, shard, self.side_of(shard)) else None


def plan_pass(job: ShardJob, p: Pass) -> PassPlan:
    """Fail fast on unreachable roots, then split the input shards into to-do and already committed."""
    from agiqa.storage import check_access
    from agiqa.storage.names import unsafe_name
    from agiqa.storage.roots import check_separate

    check_access(p.input, p.output, job.storage)
    if p.side_input and not is_bookkeeping_of(p.side_input, p.output):
        check_separate(p.side_input, p.output, what="side input")
    identity = p.stage.identity()
    plan = PassPlan(job, p, identity, identity_hash(identity), job.open_store(p.input, job.storage),
                    job.open_store(p.output, job.storage))
    # `_agiqa/` holds bookkeeping (manifests, a cascade's first pass): never input shards
    listed = [s for s in plan.in_store.list_shards(p.input) if not s.rel.startswith(BOOKKEEPING + "/")]
    if not listed:
        raise DataError(f"no *.parquet shards under {p.input} (searched recursively){_what_is_there(p.input)}")
    plan.refused = [(s, why) for s in listed if (why := unsafe_name(s.rel))]
    shards = [s for s in listed if not unsafe_name(s.rel)]
    if p.side_input:
        plan.side_store = job.open_store(p.side_input, job.storage)
        plan.sides = {s.rel: s for s in plan.side_store.list_shards(p.side_input)}
    if job.overwrite:
        plan.todo = shards
        return plan
    # Manifest reads are independent round trips: overlap them (1M shards on S3 in minutes, not hours).
    with ThreadPoolExecutor(max_workers=32, thread_name_prefix="agiqa-plan") as pool:
        done = list(pool.map(lambda s: plan.committed_manifest(s) is not None, shards))
    plan.todo = [s for s, d in zip(shards, done, strict=True) if not d]
    plan.skipped = [s for s, d in zip(shards, done, strict=True) if d]
    return plan


def is_bookkeeping_of(root: str, output: str) -> bool:
    """True for a root inside `output`'s `_agiqa/` (where an earlier pass of the same job writes)."""
    from agiqa.storage.uri import join

    return _inside(root, join(output, BOOKKEEPING))


def _inside(root: str, parent: str) -> bool:
    import os

    from agiqa.storage.uri import is_s3

    if is_s3(root) or is_s3(parent):
        return root.rstrip("/").startswith(parent.rstrip("/") + "/")
    return os.path.realpath(root).startswith(os.path.realpath(parent) + os.sep)


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
    return f"; it holds {len(files)} other file(s) ({', '.join(kinds)})"
