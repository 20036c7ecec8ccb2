"""Which driver (rank) of N runs which shard: a stable hash of the shard's relative name, mod N.

Many drivers over one dataset (`runner.rank`, `runner.world_size`: N plain processes, a Slurm
array, several Ray drivers on one cluster) split the input by name alone, so every rank computes
the same partition from the same listing without talking to the others, and a shard's rank never
changes between runs (a rank rerun finds its own committed shards). The hash is BLAKE2b of the
UTF-8 name (first 8 bytes, big-endian), never Python's `hash()`, which is salted per process.
Rank and world size are never part of any identity: the outputs are the same bytes whatever N is.
"""

from __future__ import annotations

import hashlib


def rank_of(rel: str, world_size: int) -> int:
    """The rank (0..world_size-1) that runs the shard with relative name `rel`."""
    digest = hashlib.blake2b(rel.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % world_size


def shards_of_rank(shards: list, rank: int, world_size: int) -> list:
    """The shards (anything with a `.rel`) that rank `rank` of `world_size` runs, in their order."""
    if world_size <= 1:
        return list(shards)
    return [s for s in shards if rank_of(s.rel, world_size) == rank]


def rank_tag(rank: int, world_size: int) -> str:
    """`rank-R-of-N`: how a rank's own files in the state root are named (lease, summary)."""
    return f"rank-{rank}-of-{world_size}"
