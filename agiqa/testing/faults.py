"""Stores that fail on purpose, passed to a job as its `open_store` (so faults never live in production code)."""

from __future__ import annotations

import os


class DieAfterManifest:
    """A store whose process exits hard right after writing a given shard's manifest: the shard is
    committed, but the reply saying so is lost with the process (an actor killed at the worst moment)."""

    def __init__(self, store, shard_rel: str):
        self._store, self._suffix = store, "/" + shard_rel + ".manifest.json"

    def __getattr__(self, name):
        return getattr(self._store, name)

    def write_json(self, uri: str, data: dict) -> None:
        self._store.write_json(uri, data)
        if ("/" + uri.lstrip("/")).endswith(self._suffix):
            os._exit(1)


def die_after_manifest(shard_rel: str):
    """An `open_store` for `ShardJob` whose stores die right after committing `shard_rel`."""

    def open_store(uri: str, storage_cfg):
        from agiqa.storage import open_store as real

        return DieAfterManifest(real(uri, storage_cfg), shard_rel)

    return open_store


class FailOnceReading:
    """A store whose first read of a file named `name` (across processes: a marker file says it
    happened) raises StorageError: an outage past its budget mid-shard, once."""

    def __init__(self, store, name: str, marker: str):
        self._store, self._name, self._marker = store, name, marker

    def __getattr__(self, attr):
        return getattr(self._store, attr)

    def read_bytes(self, uri: str) -> bytes:
        if str(uri).endswith("/" + self._name):
            try:
                fd = os.open(self._marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.close(fd)
                from agiqa.storage.base import StorageError

                raise StorageError(f"injected outage reading {uri}")
        return self._store.read_bytes(uri)


def fail_once_reading(name: str, marker: str):
    """An `open_store` whose stores fail the first read of a file named `name` (see `FailOnceReading`)."""

    def open_store(uri: str, storage_cfg):
        from agiqa.storage import open_store as real

        return FailOnceReading(real(uri, storage_cfg), name, marker)

    return open_store
