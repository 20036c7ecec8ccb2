"""Where a job may write: never into its input, never outside its output root.

Two roots overlap when they are equal or one lies inside the other, after resolving relative
paths and symlinks (local) or comparing bucket and key prefix (S3). A job whose output overlaps
its input would overwrite or re-read its own results, so it is refused before any work.

A shard's relative name comes from the store's listing; S3 keys may hold `..`, a leading `/`,
empty segments or control characters, which joined onto a local folder would land outside the
output root. Such names are refused shard by shard, by the one rule in `names.py` (re-exported here).
"""

from __future__ import annotations

import os
from pathlib import Path

from agiqa.errors import ConfigError
from agiqa.storage.names import unsafe_name  # noqa: F401 - the one rule, re-exported for older imports
from agiqa.storage.uri import is_s3, split_s3


def _key_prefix(uri: str) -> tuple[str, str]:
    bucket, key = split_s3(uri)
    parts = [p for p in key.split("/") if p]
    return bucket, "/".join(parts)


def overlap(a: str, b: str) -> bool:
    """True when roots `a` and `b` are the same place or one is inside the other."""
    if is_s3(a) != is_s3(b):
        return False
    if is_s3(a):
        (ba, ka), (bb, kb) = _key_prefix(a), _key_prefix(b)
        if ba != bb:
            return False
        return ka == kb or not ka or not kb or ka.startswith(kb + "/") or kb.startswith(ka + "/")
    pa, pb = Path(os.path.realpath(a)), Path(os.path.realpath(b))
    return pa == pb or pa in pb.parents or pb in pa.parents


def check_separate(input_root: str, output_root: str, what: str = "input") -> None:
    """ConfigError when the output root overlaps the input root (or another root the job reads)."""
    if overlap(input_root, output_root):
        raise ConfigError(f"output {output_root} overlaps the {what} {input_root}: the job would overwrite or "
                          f"re-read its own outputs; choose an output outside the {what}")
