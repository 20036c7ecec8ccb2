"""agiqa's own folder on this machine: content digests, and staging files for uploads.

`AGIQA_CACHE_DIR`, else `$XDG_CACHE_HOME/agiqa`, else `~/.cache/agiqa`.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    root = os.environ.get("AGIQA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "agiqa")
    return Path(root)
