"""Scoring methods by name. Built-ins are listed as import paths, so naming one imports only it.

A new method needs a `MethodConfig` subclass whose `name` is a `Literal` and one call to
`register_method`; the job config, the stages, the runners and the CLI (its flags, `--method`'s
names, `train-head`, `make-tiny-model`) then take it by name, unchanged. A method of your own lives in
your module: `agiqa score --import MODULE` (or `imports:` in a job config) imports it first.
"""

from __future__ import annotations

import difflib
import importlib

from agiqa.errors import ConfigError

#: The method used where none is named (`agiqa score`, `agiqa.Scorer`, a config's `method:` without a name).
DEFAULT_METHOD = "m3-agiqa"
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


def method_config_classes() -> dict[str, type]:
    """Every method's config class by name, the default first (imports the built-ins' configs: light)."""
    names = sorted(method_names(), key=lambda n: (n != DEFAULT_METHOD, n))
    return {n: method_config_class(n) for n in names}


def method_config(value, default: str | None = None):
    """A method's validated config from a config tree's `method:` value: a `MethodConfig`, a dict with a
    `name` (without one: `default`, or refused), or a bare name. What every `method:` field validates with."""
    from agiqa.methods.base import MethodConfig

    if isinstance(value, MethodConfig):
        return value
    if isinstance(value, str):
        value = {"name": value}
    if isinstance(value, dict) and "name" not in value and default is not None:
        value = {"name": default, **value}
    if not isinstance(value, dict) or "name" not in value:
        raise ValueError(f"needs a `name` (one of {', '.join(method_names())})")
    return method_config_class(value["name"]).model_validate(value)


def import_method_modules(modules, where: str = "imports") -> None:
    """Import the modules that register methods of their own, refusing one that cannot be imported in one line."""
    for module in modules or ():
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ConfigError(f"{where}: cannot import {module!r} ({e})") from None


def methods_with(kind: str) -> list[str]:
    """The methods whose config names a function in attribute `kind` (e.g. `train_entry`), default first."""
    return [n for n, c in method_config_classes().items() if getattr(c, kind, None)]


def method_entry(name: str, kind: str, command: str):
    """The function method `name` names in its config's `kind` attribute ("module:function"), e.g.
    `train_entry`; a ConfigError naming the methods `command` can take when `name` names none."""
    path = getattr(method_config_class(name), kind, None)
    if not path:
        raise ConfigError(f"{command} does not know method {name!r}; it takes: {', '.join(methods_with(kind)) or 'none'}")
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)
