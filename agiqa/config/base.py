"""Reading a YAML config and applying command-line overrides to it, before one validation."""

from __future__ import annotations

from pathlib import Path

from agiqa.errors import ConfigError


def read_yaml(path: str | Path | None) -> dict:
    """The mapping in `path` ({} for None); a ConfigError naming the file on any problem."""
    import yaml

    if path is None:
        return {}
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config ({e.strerror or e})") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(e, 'problem', None) or e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a YAML mapping, not {type(data).__name__}")
    return data


def deep_merge(base: dict, extra: dict) -> dict:
    """`extra` over `base`, nested mappings merged; None in `extra` means "not given"."""
    out = dict(base)
    for k, v in extra.items():
        if v is None:
            continue
        if isinstance(v, dict):
            out[k] = deep_merge(out[k] if isinstance(out.get(k), dict) else {}, v)
        else:
            out[k] = v
    return out
