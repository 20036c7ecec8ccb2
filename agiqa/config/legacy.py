"""The spelling of `agiqa score` configs before methods existed, translated to today's.

    engine: {model, adapters, heads, prompt_set, describe, ...}  ->  method: {name: m3-agiqa, engine: {...},
                                                                              heads, prompt_set, describe}
    ray: {runner, address, num_actors, num_gpus_per_actor, ...}  ->  runner: {kind, address, ...} and
                                                                     resources: {score: {num_actors, ...}}
    method: {name: clip-agiqa, num_gpus, num_cpus}                 ->  resources: {score: {num_gpus, num_cpus}}
    prefilter: {method: {..., num_gpus, num_cpus}}                 ->  resources: {prefilter: {...}}

Old configs keep working; each translation is logged once with the new spelling, so users can move.
Where the old and new spellings are both given, the new one wins (flags are always the new one).
"""

from __future__ import annotations

import logging

from agiqa.config.base import deep_merge

log = logging.getLogger(__name__)

_M3_KEYS = ("heads", "prompt_set", "describe")
_RAY_TO_RUNNER = {"runner": "kind", "address": "address", "shards_in_flight_per_actor": "shards_in_flight_per_actor",
                  "max_shard_attempts": "max_shard_attempts"}
_RAY_TO_RESOURCES = {"num_actors": "num_actors", "num_gpus_per_actor": "num_gpus", "num_cpus_per_actor": "num_cpus"}


#: Resource fields methods' configs once held (CLIP-AGIQA's): they live in `resources.<stage>` now.
_METHOD_RESOURCES = ("num_gpus", "num_cpus")


def upgrade_score_config(data: dict) -> dict:
    """`data` with the old `engine:` and `ray:` sections, and resources said in a method's settings, moved to
    where they live now."""
    if not isinstance(data, dict):
        return data
    data = _method_resources(data)
    if "engine" not in data and "ray" not in data:
        return data
    data = dict(data)
    if "engine" in data:
        engine = dict(data.pop("engine") or {})
        old = {"name": "m3-agiqa", **{k: engine.pop(k) for k in _M3_KEYS if k in engine}, "engine": engine}
        data["method"] = deep_merge(old, data.get("method") or {})
        log.warning("config: `engine:` is now `method: {name: m3-agiqa, engine: {...}}` "
                    "(heads, prompt_set and describe sit under `method:`)")
    if "ray" in data:
        ray = dict(data.pop("ray") or {})
        unknown = sorted(set(ray) - set(_RAY_TO_RUNNER) - set(_RAY_TO_RESOURCES))
        runner = {_RAY_TO_RUNNER[k]: v for k, v in ray.items() if k in _RAY_TO_RUNNER}
        resources = {_RAY_TO_RESOURCES[k]: v for k, v in ray.items() if k in _RAY_TO_RESOURCES}
        for k in unknown:  # keep them where validation will name them
            runner[k] = ray[k]
        data["runner"] = deep_merge(runner, data.get("runner") or {})
        if resources:
            data["resources"] = deep_merge({"score": resources}, data.get("resources") or {})
        log.warning("config: `ray:` is now `runner: {kind, address, shards_in_flight_per_actor, max_shard_attempts}` "
                    "and `resources: {score: {num_actors, num_gpus, num_cpus}}`")
    return data


def _method_resources(data: dict) -> dict:
    """`method.num_gpus` / `num_cpus` (and the prefilter's) moved to `resources.<stage>`, where resources are said
    (the method's own declared default applies to what is not said there). A method whose config still has such
    a field keeps it."""
    sections = {"score": (data, "method")}
    if isinstance(data.get("prefilter"), dict):
        sections["prefilter"] = (data["prefilter"], "method")
    moved: dict[str, dict] = {}
    for stage, (parent, key) in sections.items():
        method = parent.get(key)
        if not isinstance(method, dict) or not any(k in method for k in _METHOD_RESOURCES):
            continue
        if any(k in _fields_of(method) for k in _METHOD_RESOURCES):
            continue
        moved[stage] = {k: method[k] for k in _METHOD_RESOURCES if k in method}
    if not moved:
        return data
    data = dict(data)
    for stage, values in moved.items():
        where = "method" if stage == "score" else "prefilter.method"
        parent = data if stage == "score" else dict(data["prefilter"])
        parent["method"] = {k: v for k, v in parent["method"].items() if k not in values}
        if stage == "prefilter":
            data["prefilter"] = parent
        data["resources"] = deep_merge({stage: values}, data.get("resources") or {})
        log.warning("config: %s is now `resources: {%s: {%s}}` (the method's default applies otherwise)",
                    ", ".join(f"`{where}.{k}`" for k in values), stage, ", ".join(values))
    return data


def _fields_of(method: dict) -> set[str]:
    """The config fields of the method named in `method` (none when it names no known method)."""
    from agiqa.errors import ConfigError
    from agiqa.methods.registry import method_config_class

    name = method.get("name")
    if not isinstance(name, str):
        return set()
    try:
        return set(method_config_class(name).model_fields)
    except ConfigError:
        return set()
