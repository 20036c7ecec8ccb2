"""URI helpers: `s3://bucket/key` or a local path; relative shard names are joined the same way."""

from __future__ import annotations


def is_s3(uri: str) -> bool:
    return str(uri).startswith("s3://")


def split_s3(uri: str) -> tuple[str, str]:
    """'s3://bucket/a/b' -> ('bucket', 'a/b')."""
    if not is_s3(uri):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    rest = uri[len("s3://"):]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError(f"s3 URI without a bucket: {uri!r}")
    return bucket, key


def join(root: str, rel: str) -> str:
    root = str(root)
    if is_s3(root):
        return root.rstrip("/") + "/" + rel.lstrip("/") if root.rstrip("/") != "s3:/" else root + rel
    import os

    return os.path.join(root, rel)


def manifest_uri(shard_uri: str) -> str:
    """A manifest's name for the shard at `shard_uri` (placed under the state root's `manifests/` by the runner)."""
    return shard_uri + ".manifest.json"
