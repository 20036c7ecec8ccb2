"""What every store offers. Writes go through a local temporary file and become visible whole.

Why a temporary file even for S3: a scored shard is written batch by batch (bounded memory),
and S3 has no rename. Writing locally then uploading once (one PUT, or one multipart upload
completed at the end) makes the object appear whole or not at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import BinaryIO, Protocol

from agiqa.errors import AgiqaError


@dataclass(frozen=True)
class ShardInfo:
    uri: str  # full URI of the input shard
    rel: str  # path relative to the input root ('a/b.parquet'), reused under the output root
    size: int
    etag: str  # S3 ETag, or mtime-size for local files

    def to_dict(self) -> dict:
        return asdict(self)


class StorageError(AgiqaError):
    """A storage problem with a clear, credential-free message."""


class Store(Protocol):
    def list_shards(self, root: str) -> list[ShardInfo]: ...

    def list_files(self, root: str, suffixes: tuple[str, ...] | None = None) -> list[ShardInfo]:
        """Every file under `root` ending with one of `suffixes`, sorted by relative name (ingest lists
        images and tars with it; `list_shards` is the `.parquet` case)."""
        ...

    def read_bytes(self, uri: str) -> bytes:
        """A whole small file (an image named by a path column); FileNotFoundError when it is absent."""
        ...

    def open_read(self, uri: str) -> BinaryIO:
        """A seekable binary file (pyarrow reads Parquet footers and row groups by range)."""
        ...

    def commit_file(self, local_path: str, uri: str) -> None:
        """Make `local_path`'s content visible at `uri` atomically; `local_path` is consumed."""
        ...

    def temp_path_for(self, uri: str) -> str:
        """A local path to write `uri`'s content to before `commit_file`."""
        ...

    def read_json(self, uri: str) -> dict | None: ...

    def write_json(self, uri: str, data: dict) -> None: ...

    def exists(self, uri: str) -> bool: ...

    def info(self, uri: str) -> ShardInfo | None:
        """Size and etag of the file at `uri` (a stat, or one HEAD), or None when there is none."""
        ...

    def delete(self, uri: str) -> None:
        """Remove `uri` if it exists."""
        ...

    def probe_write(self, root: str) -> None:
        """Raise StorageError when nothing can be written under `root` (checked before any work)."""
        ...
