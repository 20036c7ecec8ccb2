"""A committed shard's manifest: written last, after every output of the shard is in place.

Manifests and the job summary live in `<output root>/_agiqa/`, so the output root reads as a
Parquet dataset (pyarrow, polars, Spark and Athena skip `_`-prefixed folders). Outputs written
before that kept the manifest beside the shard; it is still read there, and removed once the
shard is committed again.

A shard is done when its manifest exists, carries the identity hash of the stage that would run
now, and names the same input (and side input) by etag as the listing does. Anything else (no
manifest, a torn one, another identity, a changed input) means: do it again.
"""

from __future__ import annotations

import hashlib
import json
import time

from agiqa.storage.base import ShardInfo
from agiqa.storage.uri import join, manifest_uri


def identity_hash(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


SIDECAR_DIR = "_agiqa"


def shard_manifest_uri(output_root: str, shard: ShardInfo) -> str:
    return manifest_uri(join(join(output_root, SIDECAR_DIR + "/manifests"), shard.rel))


def legacy_manifest_uri(output_root: str, shard: ShardInfo) -> str:
    """Where manifests were written before they moved to `_agiqa/` (beside the shard)."""
    return manifest_uri(join(output_root, shard.rel))


def read_manifest(out_store, output_root: str, shard: ShardInfo) -> dict | None:
    m = out_store.read_json(shard_manifest_uri(output_root, shard))
    return m if m is not None else out_store.read_json(legacy_manifest_uri(output_root, shard))


def is_committed(manifest: dict | None, ident_hash: str, shard: ShardInfo, side: ShardInfo | None) -> bool:
    if manifest is None or manifest.get("identity_hash") != ident_hash:
        return False
    if manifest.get("input", {}).get("etag") != shard.etag:
        return False
    return side is None or (manifest.get("side_input") or {}).get("etag") == side.etag


def build_manifest(stage_name: str, identity: dict, ident_hash: str, shard: ShardInfo, side: ShardInfo | None,
                   report, renames: dict) -> dict:
    import agiqa

    return {
        "shard": shard.rel,
        "stage": stage_name,
        "input": {"uri": shard.uri, "size": shard.size, "etag": shard.etag},
        "side_input": None if side is None else {"uri": side.uri, "size": side.size, "etag": side.etag},
        "output": report.output,
        "outputs": report.outputs,
        "rows_in": report.rows_in,
        "rows_out": report.rows_out,
        "rows_by_status": report.rows_by_status,
        "rows_ok": report.rows_ok,
        "rows_error": report.rows_error,
        "renamed_input_columns": renames,
        "identity_hash": ident_hash,
        "identity": identity,
        "agiqa_version": agiqa.__version__,
        "seconds": round(report.seconds, 3),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
