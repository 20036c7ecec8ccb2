"""The one rule for the names a job writes, and the one check that a write stays inside its root.

Names come from listings the user does not control: S3 keys may hold `..`, a leading `/`, empty
segments (`a//b`) or control characters, and a local folder may hold symlinks that point elsewhere.
Joined onto a local output folder such a name lands outside it; shown in a log or summary, a newline
in it forges a line. So:

- `unsafe_name(rel)` says why a relative name cannot be written under a root (None: it can). Every
  job kind refuses such input names per file with it, before any work on them.
- `outside_root(root, uri)` says why `uri` is not a place under `root` (None: it is). Every store's
  write, commit, temp-file and delete goes through it (`check_inside`), so no writer, whatever job
  or pass it belongs to, can put a file outside the root its store was opened for.
- `shown(name)` is how a name appears in logs and summaries: as is, or repr-quoted when it holds
  control characters.
"""

from __future__ import annotations

import os
import re
from pathlib import PurePosixPath

from agiqa.errors import UnsafeNameError
from agiqa.storage.uri import is_s3

_CONTROL = re.compile("[\x00-\x1f\x7f]")


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None  # a regex: called per shard on listings of 10^5 names


def unsafe_name(rel: str) -> str | None:
    """Why relative name `rel` cannot be written under an output root, or None when it can."""
    if not rel:
        return "empty relative name"
    if has_control(rel):
        return "relative name has control characters"
    if rel.startswith("/") or "\\" in rel:
        return "relative name is absolute or has backslashes"
    parts = rel.split("/")
    if "" in parts:
        return "relative name has empty path segments ('//')"
    if "." in parts or ".." in parts:
        return "relative name has '.' or '..' segments"
    if PurePosixPath(rel).is_absolute():
        return "relative name is absolute"
    return None


def shown(name) -> str:
    """`name` for a log or summary line: repr-quoted when it holds control characters (a newline in
    a shard name must not start a line of its own), else as it is."""
    text = str(name)
    return repr(text) if has_control(text) else text


def outside_root(root: str, uri: str) -> str | None:
    """Why `uri` is not a place under `root`, or None when it is: it must be `root` + '/' + a safe
    relative name, and (local) must not reach outside `root` through a symlink."""
    root, uri = str(root), str(uri)
    if is_s3(root) != is_s3(uri):
        return "not under the root"
    base = root.rstrip("/") or "/"
    prefix = base if base.endswith("/") else base + "/"
    if uri.startswith(prefix):
        rel = uri[len(prefix):]
    elif not is_s3(root) and _inside(os.path.abspath(uri), os.path.abspath(root)):
        rel = os.path.relpath(os.path.abspath(uri), os.path.abspath(root)).replace(os.sep, "/")
    else:
        return "not under the root"
    if why := unsafe_name(rel):
        return why
    if not is_s3(root) and not _inside(os.path.realpath(uri), os.path.realpath(root)):
        return "reaches outside the root through a symlink"
    return None


def check_inside(root: str | None, uri: str) -> None:
    """UnsafeNameError unless `uri` is a place under `root` or under its state root (`<root>.agiqa/`,
    where the job keeps its own files: `agiqa.storage.layout`); a store opened without a root writes
    nowhere."""
    if root is None:
        raise UnsafeNameError(f"refused to write {shown(uri)}: the store was opened without an output root")
    if why := outside_root(root, uri):
        if (state := _state_root(root)) is not None and outside_root(state, uri) is None:
            return
        raise UnsafeNameError(f"refused to write {shown(uri)} outside {shown(root)}: {why}")


def _state_root(root: str) -> str | None:
    from agiqa.errors import ConfigError
    from agiqa.storage.layout import state_root

    try:
        return state_root(root)
    except ConfigError:  # a bucket's or filesystem's root has none
        return None


def escapes(root: str, path: str) -> bool:
    """True when local `path` (a listed file, maybe a symlink) resolves to a place outside `root`."""
    return not _inside(os.path.realpath(path), os.path.realpath(root))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
