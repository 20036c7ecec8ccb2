"""Local folders: a temp file on the destination's filesystem (in the state root) + os.replace (atomic on POSIX).

A store is opened for one root (`open_store(root)`); every write, commit, temp file and delete
is checked to lie under it (`names.check_inside`), so a name from a listing (`..`, a symlink in
the output) can never make any job write outside its output.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from agiqa.storage.base import ShardInfo, StorageError
from agiqa.storage.names import check_inside


def _walk(folder: str, prefix: str, want: tuple[str, ...] | None, skip_hidden: bool, found: list) -> None:
    """(relative name, path, stat) of the files under `folder`, into `found`: `os.scandir`, whose
    entries carry their type (a listing of 10^5 shards in seconds, not the minute `Path.rglob` and a
    `stat` per path take). As `rglob` does, symlinked folders are not entered; symlinked files count."""
    with os.scandir(folder) as entries:
        for e in entries:
            if skip_hidden and e.name.startswith("."):
                continue
            rel = prefix + e.name
            if e.is_dir(follow_symlinks=False):
                _walk(e.path, rel + "/", want, skip_hidden, found)
            elif (want is None or e.name.lower().endswith(want)) and e.is_file():
                found.append((rel, e.path, e.stat()))


class LocalStore:
    def __init__(self, root: str | None = None):
        self.root = None if root is None else str(root)  # where writes may go; None: nowhere

    def list_shards(self, root: str) -> list[ShardInfo]:
        return self.list_files(root, (".parquet",), skip_hidden=False)

    def list_files(self, root: str, suffixes: tuple[str, ...] | None = None,
                   skip_hidden: bool = True) -> list[ShardInfo]:
        """Files under `root` (recursively, sorted by relative name) whose names end with one of
        `suffixes` (case-insensitive; None: every file); hidden files and folders (`.x`) are left out
        unless `skip_hidden` is False."""
        base = Path(root)
        if not base.exists():
            raise StorageError(f"input folder {root} does not exist")
        if base.is_file():
            paths = [base]
            base = base.parent
        else:
            want = tuple(s.lower() for s in suffixes) if suffixes else None
            found = []
            _walk(str(base), "", want, skip_hidden, found)
            found.sort(key=lambda t: t[0].split("/"))  # as sorted paths are: part by part
            return [ShardInfo(uri=path, rel=rel, size=st.st_size, etag=f"{st.st_mtime_ns:x}-{st.st_size:x}")
                    for rel, path, st in found]
        out = []
        for p in paths:
            st = p.stat()
            out.append(ShardInfo(uri=str(p), rel=p.relative_to(base).as_posix(), size=st.st_size,
                                 etag=f"{st.st_mtime_ns:x}-{st.st_size:x}"))
        return out

    def read_bytes(self, uri: str) -> bytes:
        with open(uri, "rb") as f:
            return f.read()

    def open_read(self, uri: str):
        return open(uri, "rb")  # noqa: SIM115 - the caller owns it

    def temp_path_for(self, uri: str) -> str:
        """A temp file on `uri`'s filesystem, in the state root when there is one, so a killed job
        leaves nothing inside the output (`temps.py`)."""
        from agiqa.storage.temps import new_temp

        check_inside(self.root, uri)
        return new_temp(self.root, uri)

    def probe_write(self, root: str, ride_outages: bool = False) -> None:
        """Refuse an output that is a file, or a folder this process cannot write, before any work."""
        check_inside(self.root, os.path.join(root, ".agiqa-write-probe"))
        p = Path(root)
        if p.exists() and not p.is_dir():
            raise StorageError(f"output {root} is a file, not a folder")
        try:
            p.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".agiqa-write-probe-", dir=p)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            raise StorageError(f"output {root}: cannot write there ({e.strerror or e})") from None

    def delete(self, uri: str) -> None:
        check_inside(self.root, uri)
        try:
            os.unlink(uri)
        except FileNotFoundError:
            pass

    def commit_file(self, local_path: str, uri: str) -> None:
        check_inside(self.root, uri)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(local_path, 0o666 & ~umask)  # mkstemp made it 0600; outputs are ordinary files
        with open(local_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(local_path, uri)

    def read_json(self, uri: str) -> dict | None:
        try:
            return json.loads(Path(uri).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None  # a torn or foreign file counts as absent: the shard is redone

    def write_json(self, uri: str, data: dict) -> None:
        tmp = self.temp_path_for(uri)
        try:
            Path(tmp).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
            self.commit_file(tmp, uri)
        except OSError as e:  # a full disk must not leave temp files nothing removes
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise StorageError(f"cannot write {uri}: {e.strerror or e}") from None

    def info(self, uri: str) -> ShardInfo | None:
        """Size and etag (mtime and size, as the listing gives) of the file at `uri`, or None."""
        try:
            st = os.stat(uri)
        except FileNotFoundError:
            return None
        return ShardInfo(uri=uri, rel=os.path.basename(uri), size=st.st_size, etag=f"{st.st_mtime_ns:x}-{st.st_size:x}")

    def exists(self, uri: str) -> bool:
        return os.path.exists(uri)
