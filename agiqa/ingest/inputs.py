"""The input as ingest lists it: files are read where they are, under the input root, or reported.

Every format's planner lists through `InputView`, so one place refuses, per file, what must not be
ingested as given, and reports it (the rest of the input goes on):

- names that cannot be written under the output (`..`, `//`, a leading `/`, control characters:
  `agiqa.storage.names.unsafe_name`, the rule every job kind uses) -> `unsafe_name`;
- local files that are symlinks resolving outside the input root -> `symlink_outside_input`, unless
  the user asked to follow them (`--follow-symlinks`): a link can make an ingest copy files from
  anywhere on the machine into a dataset that is then shared.
"""

from __future__ import annotations

from agiqa.ingest.report import Skip
from agiqa.storage.names import escapes, unsafe_name
from agiqa.storage.uri import is_s3


class InputView:
    """The input store, listing only files that may be ingested; `refused` holds a Skip per other file."""

    def __init__(self, store, root: str, follow_symlinks: bool = False):
        self._store, self.root, self.follow_symlinks = store, str(root), follow_symlinks
        self.refused: list[Skip] = []
        self._seen: set[str] = set()

    def __getattr__(self, name):
        return getattr(self._store, name)

    def list_files(self, root: str, suffixes: tuple[str, ...] | None = None) -> list:
        out = []
        for f in self._store.list_files(root, suffixes):
            code, why = self._why(f)
            if code is None:
                out.append(f)
            elif f.uri not in self._seen:  # planners list more than once (format detection, siblings)
                self._seen.add(f.uri)
                self.refused.append(Skip(f.rel, code, why))
        return out

    def list_shards(self, root: str) -> list:
        return self.list_files(root, (".parquet",))

    def _why(self, f) -> tuple[str | None, str | None]:
        if why := unsafe_name(f.rel):
            return "unsafe_name", f"refused: {why}"
        if not self.follow_symlinks and not is_s3(self.root) and escapes(self.root, f.uri):
            return "symlink_outside_input", ("refused: a symlink to a file outside the input root "
                                             "(--follow-symlinks ingests it)")
        return None, None
