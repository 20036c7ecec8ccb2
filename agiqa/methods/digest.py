"""Content digests of weights, so a job's identity follows what is loaded, not where it lies.

Retrain a head into the same folder and its digest changes (the rerun rescores); copy a model to
another path and nothing changes (the rerun skips). Hashing a multi-GB base model on every run
would cost seconds to minutes, so each file's SHA-256 is recorded once in a small cache keyed by
(real path, size, mtime): a file is re-read only when it changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

_lock = threading.Lock()


def _cache_path() -> Path:
    from agiqa.paths import cache_dir

    return cache_dir() / "file-digests.json"


def _load_cache() -> dict:
    try:
        return json.loads(_cache_path().read_text())
    except (OSError, ValueError):
        return {}


def _save_cache(cache: dict) -> None:
    path = _cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home only costs re-hashing next time


def file_digest(path: str | Path, cache: dict | None = None) -> str:
    """SHA-256 of a file's bytes (from `cache` when its path, size and mtime are unchanged)."""
    real = os.path.realpath(path)
    st = os.stat(real)
    key = f"{real}|{st.st_size}|{st.st_mtime_ns}"
    if cache is not None and key in cache:
        return cache[key]
    with open(real, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    if cache is not None:
        cache[key] = digest
    return digest


def folder_digest(folder: str | Path, recursive: bool = False) -> str:
    """One digest over a folder's files (names relative to it, contents); hidden files left out.

    `recursive=False` takes the folder's own files only: a base model folder whose `adapters/` and
    `heads/` subfolders are digested on their own.
    """
    root = Path(folder)
    files = root.rglob("*") if recursive else root.iterdir()
    paths = sorted(p for p in files if p.is_file() and not any(part.startswith(".") for part in
                                                                p.relative_to(root).parts))
    with _lock:
        cache = _load_cache()
        before = len(cache)
        h = hashlib.sha256()
        for p in paths:
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + file_digest(p, cache).encode() + b"\n")
        if len(cache) != before:
            _save_cache(cache)
    return h.hexdigest()[:16]
