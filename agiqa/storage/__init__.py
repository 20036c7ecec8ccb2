"""One storage layer for local folders and s3:// prefixes: list, stream-read, write atomically.

`open_store(uri, storage_cfg)` returns a `LocalStore` or an `S3Store` opened for root `uri`; both
speak the `Store` protocol in `base.py`, so the shard runner never knows which it has. Reads go
anywhere; writes only under the root the store was opened for (`names.check_inside`).
"""

from __future__ import annotations


def open_store(uri: str, storage_cfg=None):
    from agiqa.storage.uri import is_s3

    if is_s3(uri):
        from agiqa.storage.config import StorageConfig
        from agiqa.storage.s3 import S3Store

        return S3Store(storage_cfg or StorageConfig(), root=uri)
    from agiqa.storage.local import LocalStore

    return LocalStore(root=uri)


def check_access(input_root: str, output_root: str, storage_cfg=None, ride_outages: bool = False) -> None:
    """Fail fast, with one clear message, before any work: roots that cannot be reached, an output
    (or its state root beside it, `agiqa.storage.layout`) that cannot be written (read-only bucket,
    a file), an output overlapping the input. `ride_outages`: for a check made once the job has
    started (each pass's planning), transient faults wait out the storage outage budget instead
    (at the start a wrong endpoint must fail at once, not after minutes)."""
    from agiqa.storage.layout import is_own_work, state_root
    from agiqa.storage.roots import check_separate
    from agiqa.storage.uri import is_s3

    check_separate(input_root, output_root)
    state = state_root(output_root)  # a bucket's or filesystem's root refused: no place beside it
    if not is_own_work(input_root, output_root):  # the job's own work lists lie in its state root
        check_separate(input_root, state)
    if is_s3(input_root) or is_s3(output_root):
        from agiqa.storage.config import StorageConfig
        from agiqa.storage.s3 import check_access as check_s3

        check_s3(input_root, output_root, storage_cfg or StorageConfig(), ride_outages)
        if is_s3(output_root):
            from agiqa.storage.s3 import S3Store

            # the state root is written too
            S3Store(storage_cfg or StorageConfig(), root=state).probe_write(state, ride_outages)
    if not is_s3(output_root):
        from agiqa.storage.local import LocalStore

        LocalStore(root=output_root).probe_write(output_root)
        LocalStore(root=state).probe_write(state)
