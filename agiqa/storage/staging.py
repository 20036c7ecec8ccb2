"""Staging files for S3 uploads: named by host and process, so cleanup removes only the dead's.

An output shard is written to a local staging file, then uploaded once (`S3Store.commit_file`). A
killed job leaves its staging files behind; the next S3 job removes them (`clean_staging`). The
staging folder is in agiqa's cache folder, which may sit in a home folder shared by several hosts
(NFS): a process id means nothing on another host, and a live upload there must not be deleted. So
each name carries the host and the pid (`<host>~<pid>~<random>.upload.tmp`), and a file is removed
only when it is this host's and its process no longer runs. Files in the older `<pid>-...` form do
not say their host and are left alone.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile

SUFFIX = ".upload.tmp"
_UNSAFE_HOST = re.compile(r"[^A-Za-z0-9.-]")


def staging_dir():
    from agiqa.paths import cache_dir

    return cache_dir() / "staging"


def this_host() -> str:
    """This host's name as it appears in staging names (only letters, digits, `.` and `-`)."""
    return _UNSAFE_HOST.sub("_", socket.gethostname()) or "unknown-host"


def staging_path() -> str:
    """A new, empty staging file of this host and process."""
    d = staging_dir()
    d.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=f"{this_host()}~{os.getpid()}~", suffix=SUFFIX, dir=d)
    os.close(fd)
    return path


def owner(name: str) -> tuple[str, int] | None:
    """(host, pid) of a staging file's name, or None when it does not say both."""
    host, sep, rest = name.partition("~")
    pid, sep2, _ = rest.partition("~")
    if not (sep and sep2 and host and pid.isdigit() and name.endswith(SUFFIX)):
        return None
    return host, int(pid)


def clean_staging() -> int:
    """Remove this host's staging files whose process no longer runs (a killed job); returns how many."""
    d = staging_dir()
    if not d.is_dir():
        return 0
    host, removed = this_host(), 0
    for p in d.glob("*" + SUFFIX):
        who = owner(p.name)
        if who is None or who[0] != host or process_alive(who[1]):
            continue
        try:
            p.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def process_alive(pid: int) -> bool:
    """Whether process `pid` runs on this host (one that exists but is not ours counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
