"""Scoring methods by name. Built-ins are listed as import paths, so naming one imports only it.

A new method needs a `MethodConfig` subclass whose `name` is a `Literal` and one call to
`register_method`; the job config, the stages and the runners then take it by name, unchanged.
"""

from __future__ import annotations

import difflib
import importlib

from agiqa.errors import ConfigError

#: name -> "module:ConfigClass" for the methods that ship with agiqa.
BUILTIN_METHODS: dict[str, str] = {
    "m3-agiqa": "agiqa.methods.m3.config:M3Config",
    "clip-agiqa": "agiqa.methods.clip.config:ClipAgiqaConfig",
}
_registered: dict[str, type] = {}


def register_method(config_cls: type) -> type:
    """Register a `MethodConfig` subclass under the default of its `name` field (usable as a decorator)."""
    name = config_cls.model_fields["name"].default
    if not isinstance(name, str) or not name:
        raise TypeError(f"{config_cls.__name__}.name needs a string default (the method's name)")
    _registered[name] = config_cls
    return config_cls


def method_names() -> list[str]:
    return sorted({*BUILTIN_METHODS, *_registered})


def method_config_class(name: str) -> type:
    """The config class of method `name`, or a ConfigError with a did-you-mean hint."""
    if name in _registered:
        return _registered[name]
    if name in BUILTIN_METHODS:
        module, _, attr = BUILTIN_METHODS[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    hint = difflib.get_close_matches(str(name), method_names(), n=1)
    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
    raise ConfigError(f"unknown method {name!r}{extra}; choose from {', '.join(method_names())}")
