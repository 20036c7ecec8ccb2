"""Where an image cell's bytes come from: the cell itself, a `{bytes, path}` struct, or a file it names.

Users' tables hold images in three shapes, and scoring reads all of them without an ingest step:

- encoded bytes (agiqa's own layout, `agiqa ingest`'s output);
- a struct `{bytes, path}`, as Hugging Face `datasets` writes an `Image()` column to Parquet: the
  bytes when present, else the file at `path`;
- a path or URI string: an absolute local path, an `s3://` URI, or a path relative to the folder
  of the shard that names it (a shard and its images can move together).

`http(s)://` URLs are refused before any work (`refuse_urls`): fetching the web from inside a GPU
job is slow, unretried and unreproducible; download first (e.g. with img2dataset, then
`agiqa ingest`). A cell whose file is missing or unreadable is a bad row (`BadRow`), never a
failed shard.
"""

from __future__ import annotations

import posixpath
import threading

from agiqa.data.images import BadRow
from agiqa.errors import ConfigError

URL_PREFIXES = ("http://", "https://")


def is_url(value) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(URL_PREFIXES)


def refuse_urls(values, column: str, where: str) -> None:
    """ConfigError naming the remedy when any of `values` (the first rows of a shard) is an http(s) URL."""
    for v in values:
        if isinstance(v, dict):
            v = v.get("path") if not v.get("bytes") else None
        if is_url(v):
            raise ConfigError(
                f"column {column!r} of {where} holds http(s) URLs ({v[:80]!r}): agiqa does not download "
                "images inside a job; download them first (e.g. `img2dataset --output_format webdataset`), "
                "then `agiqa ingest` the result")


def resolve(path: str, base: str | None) -> str:
    """The URI of `path` named in a shard at `base` (the shard's URI; None: the working directory)."""
    from agiqa.storage.uri import is_s3

    if is_s3(path) or path.startswith("/") or base is None:
        return path
    folder = base.rsplit("/", 1)[0] if "/" in base else ""
    if is_s3(base):
        bucket_key = folder[len("s3://"):]
        return "s3://" + posixpath.normpath(posixpath.join(bucket_key, path))
    return posixpath.normpath(posixpath.join(folder, path)) if folder else path


class ImageSource:
    """Turns image cells into encoded bytes (or a PIL image, from the Python API), reading named files
    through the storage layer (local or S3). One per stage; stores are opened once per process."""

    def __init__(self, storage_cfg=None):
        self.storage_cfg = storage_cfg
        self._stores: dict[bool, object] = {}
        self._lock = threading.Lock()

    def __getstate__(self):  # shipped to Ray actors: stores and locks are made again there
        return {"storage_cfg": self.storage_cfg}

    def __setstate__(self, state):
        self.__init__(state["storage_cfg"])

    def _store(self, uri: str):
        from agiqa.storage.uri import is_s3

        s3 = is_s3(uri)
        with self._lock:
            if s3 not in self._stores:
                from agiqa.storage import open_store

                self._stores[s3] = open_store(uri, self.storage_cfg)
            return self._stores[s3]

    def load(self, cell, base: str | None = None):
        """Encoded bytes (or a PIL image passed through) for one cell; BadRow when there are none."""
        if cell is None or isinstance(cell, bytes | bytearray | memoryview):
            return cell
        if hasattr(cell, "mode") and hasattr(cell, "size"):  # a PIL image (Python API)
            return cell
        if isinstance(cell, dict):
            if cell.get("bytes"):
                return cell["bytes"]
            if not cell.get("path"):
                raise BadRow("image_null", "image struct has neither bytes nor a path")
            cell = cell["path"]
        if isinstance(cell, str):
            return self.read(cell, base)
        return cell  # decode_image names the type it cannot take

    def read(self, path: str, base: str | None = None) -> bytes:
        if is_url(path):
            raise BadRow("image_url", f"image is an http(s) URL ({path[:80]}); download it first")
        if not path.strip():
            raise BadRow("image_null", "image path is empty")
        uri = resolve(path, base)
        try:
            return self._store(uri).read_bytes(uri)
        except FileNotFoundError:
            raise BadRow("image_missing", f"image file {uri} does not exist") from None
        except IsADirectoryError:
            raise BadRow("image_missing", f"image path {uri} is a folder") from None
        except Exception as e:
            raise BadRow("image_unreadable", f"image file {uri} cannot be read: {type(e).__name__}: {e}") from None
