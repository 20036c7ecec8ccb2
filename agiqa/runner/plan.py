"""Before a pass runs: check the roots, open the stores, list shards, and leave out those already done."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from agiqa.runner.job import Pass, ShardJob
from agiqa.runner.manifest import identity_hash, is_committed, shard_manifest_uri
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
    sides: dict[str, ShardInfo] = field(default_factory=dict)  # relative name -> side shard

    def side_of(self, shard: ShardInfo) -> ShardInfo | None:
        return self.sides.get(shard.rel) if self.pass_.side_input else None

    def committed_manifest(self, shard: ShardInfo) -> dict | None:
        """The shard's manifest if it is committed for this stage identity and this input."""
        m = self.out_store.read_json(shard_manifest_uri(self.pass_.output, shard))
        return m if is_committed(m, self.identity_hash, shard, self.side_of(shard)) else None


def plan_pass(job: ShardJob, p: Pass) -> PassPlan:
    """Fail fast on unreachable roots, then split the input shards into to-do and already committed."""
    from agiqa.storage import check_access

    check_access(p.input, p.output, job.storage)
    identity = p.stage.identity()
    plan = PassPlan(job, p, identity, identity_hash(identity), job.open_store(p.input, job.storage),
                    job.open_store(p.output, job.storage))
    shards = plan.in_store.list_shards(p.input)
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
