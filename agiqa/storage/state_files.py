"""The files directly in an output's state root whose names start with a prefix (`lease.`,
`job_summary.rank-`), without walking the rest of it: the state root also holds a manifest per
shard (a million on a big job), so a recursive listing is no way to find a handful of files.
S3: one `ListObjectsV2` on the key prefix; local: one directory read.
"""

from __future__ import annotations


def state_files_named(store, output: str, prefix: str, suffix: str = ".json") -> list[str]:
    """URIs of `<state root>/<prefix>*<suffix>` (no deeper), sorted."""
    import os

    from agiqa.storage.base import StorageError
    from agiqa.storage.layout import state_root
    from agiqa.storage.uri import is_s3, split_s3

    root = state_root(output)
    if not is_s3(root):
        try:
            names = os.listdir(root)
        except FileNotFoundError:
            return []
        return sorted(os.path.join(root, n) for n in names
                      if n.startswith(prefix) and n.endswith(suffix) and os.path.isfile(os.path.join(root, n)))
    bucket, key = split_s3(root)
    want = key.rstrip("/") + "/" + prefix

    def listing() -> list[str]:  # retried whole within the outage budget, as every S3Store call is
        out: list[str] = []
        for page in store.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=want):
            for obj in page.get("Contents", []):
                name = obj["Key"][len(want) - len(prefix):]
                if "/" not in name and name.endswith(suffix):
                    out.append(f"s3://{bucket}/{obj['Key']}")
        return out

    try:
        from agiqa.storage.retry import DEFAULT_BUDGET_S, with_retry

        budget = getattr(getattr(store, "cfg", None), "outage_budget_s", DEFAULT_BUDGET_S)
        out = with_retry(listing, f"list {root}/{prefix}*", budget)
    except StorageError:
        raise
    except Exception as e:
        from agiqa.storage.s3_errors import describe_error

        raise StorageError(f"cannot list {root}/{prefix}*: {describe_error(e)}") from None
    return sorted(out)
