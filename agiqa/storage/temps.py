"""Local temp files of a write in progress: in the output's state root, named by host and process.

A shard is written to a temp file, then renamed onto its name (atomic on POSIX). A job killed with
SIGKILL leaves its temp files behind, and one left inside the output breaks the readers people point
at it (polars' `read_parquet(OUT)` refuses any file that is not Parquet; DuckDB and pyarrow read
hidden files too). So a temp file goes in `<OUT>.agiqa/tmp/` when the state root exists (every job
that keeps state creates it before its first write) and lies on the destination's filesystem, so the
commit stays one rename; otherwise (an audit report, an output that is its own mount point) beside
its destination, hidden, as before.

Each name says its host and process (`<host>~<pid>~<name>.<random>.tmp`, the staging module's rule),
so planning removes what a dead process of this host left (`clean_temps`) and never a live writer's,
here or on another host sharing the folder (NFS). Temp files of agiqa before this rule
(`.<name>.<random>.tmp` inside the output, no owner) are removed by planning too: it runs under the
output's lease (`runner.lease`), before the pass's own writers start, so no one else writes there.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile

from agiqa.storage.staging import process_alive, this_host

TEMP_DIR = "tmp"  # in the state root
SUFFIX = ".tmp"
#: The hidden temp name agiqa used inside the output before the owner rule: `.<name>.<mkstemp random>.tmp`.
_UNOWNED = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")

log = logging.getLogger(__name__)


def temp_dir(root: str) -> str:
    """`<root>.agiqa/tmp` (`root` itself a state root: `<root>/tmp`), where `root`'s temp files go."""
    from agiqa.storage.layout import STATE_SUFFIX, state_root

    base = os.path.normpath(os.path.abspath(root))
    return os.path.join(base if base.endswith(STATE_SUFFIX) else state_root(base), TEMP_DIR)


def new_temp(root: str | None, uri: str) -> str:
    """A new, empty temp file for `uri` (under store root `root`), on `uri`'s filesystem."""
    dest = os.path.dirname(os.path.abspath(uri))
    os.makedirs(dest, exist_ok=True)
    prefix = f"{this_host()}~{os.getpid()}~{os.path.basename(uri)}."
    where = _in_state_root(root, dest)
    if where is None:
        where, prefix = dest, "." + prefix
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=SUFFIX, dir=where)
    os.close(fd)
    return path


def _in_state_root(root: str | None, dest: str) -> str | None:
    """The state root's temp folder when the state root exists and shares `dest`'s filesystem, else None."""
    from agiqa.errors import ConfigError

    if root is None:
        return None
    try:
        d = temp_dir(root)
    except ConfigError:  # a filesystem root has no state root
        return None
    if not os.path.isdir(os.path.dirname(d)):
        return None
    try:
        os.makedirs(d, exist_ok=True)
        return d if os.stat(d).st_dev == os.stat(dest).st_dev else None
    except OSError:
        return None


def owner(name: str) -> tuple[str, int] | None:
    """(host, pid) of a temp file's name (hidden or not), or None when it does not say both."""
    host, sep, rest = name.lstrip(".").partition("~")
    pid, sep2, _ = rest.partition("~")
    if not (sep and sep2 and host and pid.isdigit() and name.endswith(SUFFIX)):
        return None
    return host, int(pid)


def clean_temps(output: str) -> int:
    """Remove the temp files a dead process of this host left for local output `output` (in its state
    root's temp folder and inside it), and unowned ones of older agiqa inside it; returns how many.
    Call only while holding the output's lease, before the pass's writers start."""
    from agiqa.errors import ConfigError

    host, stale = this_host(), []
    try:
        tdir = temp_dir(output)
    except ConfigError:
        tdir = None
    if tdir and os.path.isdir(tdir):
        stale += [os.path.join(tdir, n) for n in os.listdir(tdir) if _dead(n, host, hidden=False)]
    if os.path.isdir(output):
        for folder, _, files in os.walk(output):
            stale += [os.path.join(folder, n) for n in files if _dead(n, host, hidden=True)]
    removed = 0
    for p in stale:
        try:
            os.unlink(p)
            removed += 1
        except OSError:
            pass
    if removed:
        log.info("removed %d temp file(s) left by killed jobs writing %s", removed, output)
    return removed


def _dead(name: str, host: str, hidden: bool) -> bool:
    """Whether `name` is a temp file left by a process that no longer runs on this host."""
    if not name.endswith(SUFFIX) or (hidden and not name.startswith(".")):
        return False
    who = owner(name)
    if who is None:
        return hidden and _UNOWNED.match(name) is not None
    return who[0] == host and not process_alive(who[1])
