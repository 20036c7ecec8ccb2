"""One storage layer for local folders and s3:// prefixes: list, stream-read, write atomically.

`open_store(uri, storage_cfg)` returns a `LocalStore` or an `S3Store`; both speak the `Store`
protocol in `base.py`, so the shard runner never knows which it has.
"""

from __future__ import annotations


def open_store(uri: str, storage_cfg=None):
    from agiqa.storage.uri import is_s3

    if is_s3(uri):
        from agiqa.config import StorageConfig
        from agiqa.storage.s3 import S3Store

        return S3Store(storage_cfg or StorageConfig())
    from agiqa.storage.local import LocalStore

    return LocalStore()
