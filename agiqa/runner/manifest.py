"""A committed shard's manifest: written last, after every output of the shard is in place.

Manifests and the job summary live in the output's state root (`<output root>.agiqa/`, see
`agiqa.storage.layout`), so the output root holds nothing but scored rows for any reader. Older
outputs kept the manifest in `<output root>/_agiqa/manifests/` (agiqa 0.1) or beside the shard;
it is still read there, and removed once the shard is committed again.

A shard is done when its manifest exists, carries the identity hash of the stage that would run
now, and names the same input (and side input) by etag as the listing does. Anything else (no
manifest, a torn one, another identity, a changed input) means: do it again.
"""

from __future__ import annotations

import hashlib
import json
import time

from agiqa.storage.base import ShardInfo
from agiqa.storage.layout import LEGACY_STATE_DIR, MANIFESTS_DIR, state_uri
from agiqa.storage.uri import join, manifest_uri


def identity_hash(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def manifests_root(output_root: str) -> str:
    """The folder (prefix) holding the manifests of the shards under `output_root`."""
    return state_uri(output_root, MANIFESTS_DIR)


def shard_manifest_uri(output_root: str, shard: ShardInfo) -> str:
    return manifest_uri(join(manifests_root(output_root), shard.rel))


def legacy_manifest_uris(output_root: str, shard: ShardInfo) -> list[str]:
    """Where older agiqa wrote the manifest: `<output>/_agiqa/manifests/` (0.1), beside the shard (before)."""
    return [manifest_uri(join(join(output_root, LEGACY_STATE_DIR + "/manifests"), shard.rel)),
            manifest_uri(join(output_root, shard.rel))]


def read_manifest(out_store, output_root: str, shard: ShardInfo) -> dict | None:
    return find_manifest(out_store, output_root, shard)[0]


def location_key(uri: str) -> str:
    """A URI as listings and joins both spell it (local paths normalised, absolute)."""
    import os

    from agiqa.storage.uri import is_s3

    return uri if is_s3(uri) else os.path.normpath(os.path.abspath(uri))


def find_manifest(out_store, output_root: str, shard: ShardInfo,
                  existing: set[str] | None = None) -> tuple[dict | None, str | None]:
    """(manifest, where it was found): the state root first, then where older agiqa wrote it; with
    `existing` (the manifests' URIs from a listing), only places listed there are read."""
    for uri in [shard_manifest_uri(output_root, shard), *legacy_manifest_uris(output_root, shard)]:
        if existing is not None and location_key(uri) not in existing:
            continue
        if (m := out_store.read_json(uri)) is not None:
            return m, uri
    return None, None


def move_legacy_manifest(out_store, output_root: str, shard: ShardInfo, manifest: dict, found_at: str) -> None:
    """A committed shard's manifest found where older agiqa wrote it, rewritten into the state root
    (then removed there: a manifest beside the shard is a non-Parquet file among the data)."""
    out_store.write_json(shard_manifest_uri(output_root, shard), manifest)
    out_store.delete(found_at)


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
        "counts": getattr(report, "counts", {}),
        "renamed_input_columns": renames,
        "identity_hash": ident_hash,
        "identity": identity,
        "agiqa_version": agiqa.__version__,
        "seconds": round(report.seconds, 3),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def outputs_changed(out_store, output_root: str, manifest: dict) -> str | None:
    """Why a committed shard's outputs are no longer what its manifest recorded, or None: an output
    missing, of another size (truncated, rewritten), or with another etag (local: mtime and size;
    S3: the object's ETag). One stat or HEAD per output; manifests from before sizes were recorded
    are checked for presence only. The content digest (`sha256`) is recorded for a deep check, not
    read here: that would cost a full read of every output on every rerun."""
    for o in manifest.get("outputs") or []:
        uri = join(output_root, o["rel"]) if o.get("rel") else o.get("uri")
        if not uri:
            continue
        info = out_store.info(uri)
        if info is None:
            return f"output {o.get('rel') or uri} is missing"
        if o.get("size") is not None and info.size != o["size"]:
            return f"output {o.get('rel') or uri} has {info.size} bytes, {o['size']} when committed"
        if o.get("etag") and info.etag != o["etag"]:
            return f"output {o.get('rel') or uri} changed since its commit"
    return None
