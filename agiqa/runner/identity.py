"""Refuse to replace committed results made with other settings.

A shard is redone when its input changed (the manifest names another etag): the output follows
its input. But a committed shard whose manifest carries another *stage identity* (other aspects,
another model digest, other decoding or image handling) holds results the user may still want:
rescoring would silently replace them. So planning refuses such an output before any model
loads, in one line naming the settings that differ, and offers `--overwrite` or another output.

Some of an identity is derived, not chosen: a cascade's top-fraction cutoff is recomputed from
the prefilter's scores and moves whenever the input grows. A stage names those parts in
`settings_of(identity)` (default: all of it is settings); a change only there redoes the shards.
A stage built from reduce results that does not say which parts are derived is never refused
(its shards are redone when its identity moves, as before).
"""

from __future__ import annotations

import json

from agiqa.errors import ConfigError

MISSING = "(absent)"


def settings_of(stage, identity: dict) -> dict:
    """The part of `identity` a user chose (the stage's `settings_of`, else all of it)."""
    fn = getattr(stage, "settings_of", None)
    return fn(identity) if fn is not None else identity


def differences(old: dict, new: dict, prefix: str = "") -> list[tuple[str, object, object]]:
    """(dotted key, old value, new value) for every leaf that differs, in key order."""
    out = []
    for k in sorted(set(old) | set(new), key=str):
        a, b = old.get(k, MISSING), new.get(k, MISSING)
        key = f"{prefix}{k}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, key + ".")
        elif _canon(a) != _canon(b):
            out.append((key, a, b))
    return out


def _canon(v) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def _brief(v, limit: int = 60) -> str:
    text = v if v is MISSING else _canon(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def refuse_other_identity(pass_, identity: dict, committed: list[tuple]) -> None:
    """ConfigError when a manifest in `committed` ((shard, manifest) pairs) was made with other settings."""
    stage = pass_.stage
    if pass_.from_reduce and getattr(stage, "settings_of", None) is None:
        return  # which of its identity is derived is unknown: redo, never refuse
    mine = settings_of(stage, identity)
    for shard, manifest in committed:
        theirs = manifest.get("identity")
        if not isinstance(theirs, dict):
            continue  # a torn or foreign manifest: the shard is redone, nothing to keep
        diff = differences(settings_of(stage, theirs), mine)
        if not diff:
            continue
        n = sum(1 for _, m in committed if isinstance(m.get("identity"), dict)
                and differences(settings_of(stage, m["identity"]), mine))
        shown = "; ".join(f"{k}: {_brief(a)} -> {_brief(b)}" for k, a, b in diff[:3])
        more = f" (and {len(diff) - 3} more)" if len(diff) > 3 else ""
        raise ConfigError(
            f"output {pass_.output} holds {n} shard(s) committed with other settings (e.g. {shard.rel}: "
            f"{shown}{more}); rerun with --overwrite to replace them, or choose another --output")
