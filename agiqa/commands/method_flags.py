"""The method flags of `agiqa score`, generated from the registry: each method's `cli_flags` and its
fields' types, choices and descriptions, so a method (a user's too) brings its own flags and help.

Why generated: the flags used to restate the field descriptions and hard-code method names, and a
new method then had to edit the CLI. A flag several methods take gets one option whose help gives
each method's meaning and default.
"""

from __future__ import annotations

import typing

from agiqa.errors import ConfigError


def add_import_argument(p) -> None:
    """`--import MODULE`: read by `agiqa.cli` before the parser is built, so the methods it registers
    have their flags and names in the parser and in `--help`."""
    p.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                   help="Import MODULE first: where methods of your own call `register_method` (repeatable; "
                        "default: none).")


def method_choice_help(kind: str | None = None) -> str:
    """'one of m3-agiqa (default), clip-agiqa, ...': the registered methods (those naming a `kind` function)."""
    from agiqa.methods.registry import DEFAULT_METHOD, method_names, methods_with

    names = methods_with(kind) if kind else method_names()
    return "one of " + ", ".join(f"{n} (default)" if n == DEFAULT_METHOD else n for n in
                                 sorted(names, key=lambda n: (n != DEFAULT_METHOD, n)))


def _field(cls, path: str):
    """The pydantic field at dotted `path` of config class `cls`."""
    *parents, leaf = path.split(".")
    for part in parents:
        cls = cls.model_fields[part].annotation
    return cls.model_fields[leaf]


def _kind(field) -> tuple[type, tuple | None]:
    """(argparse type, choices) of a field: Literal -> choices, Optional unwrapped."""
    ann = field.annotation
    args = [a for a in typing.get_args(ann) if a is not type(None)] if typing.get_origin(ann) is not None else []
    if typing.get_origin(ann) is typing.Literal:
        return str, tuple(typing.get_args(ann))
    if args and typing.get_origin(args[0]) is typing.Literal:
        return str, tuple(typing.get_args(args[0]))
    base = args[0] if len(args) == 1 else ann
    return (base if base in (int, float, bool) else str), None


def _text(field, path: str) -> str:
    """A flag's help from its field: the description, then the default unless the description names one."""
    desc = (field.description or "").rstrip(".")
    if field.annotation is bool:
        return f"Sets {path} to {str(not field.default).lower()} (default {str(field.default).lower()}). {desc}"
    if field.is_required():
        return desc + " (required, here or in --config)"
    if "default" in desc.lower():
        return desc
    default = field.get_default(call_default_factory=True)
    return f"{desc} (default {'not set' if default is None else repr(default)})"


def method_flag_specs() -> dict[str, dict]:
    """dest -> {option, type, choices, help} over every registered method's `cli_flags`."""
    from agiqa.methods.registry import method_config_classes

    specs: dict[str, dict] = {}
    for name, cls in method_config_classes().items():
        for dest, path in cls.cli_flags.items():
            field = _field(cls, path)
            ftype, choices = _kind(field)
            spec = specs.setdefault(dest, {"type": ftype, "choices": choices, "texts": {}})
            if ftype is bool:
                spec["negate"] = field.default is True
            spec["texts"][name] = _text(field, path)
    for dest, spec in specs.items():
        texts = spec.pop("texts")
        spec["option"] = ("--no-" if spec.get("negate") else "--") + dest.replace("_", "-")
        if len(set(texts.values())) == 1:  # one meaning: said once, with the methods that take it
            spec["help"] = f"{next(iter(texts.values()))} [{', '.join(texts)}]"
        else:
            spec["help"] = "; ".join(f"{n}: {t}" for n, t in texts.items())
    return specs


def add_method_flags(p) -> None:
    """The method flags as options of parser (or group) `p`."""
    for dest, spec in method_flag_specs().items():
        if spec["type"] is bool:
            p.add_argument(spec["option"], dest=f"method_flag_{dest}", action="store_true", default=None,
                           help=spec["help"])
        else:
            p.add_argument(spec["option"], dest=f"method_flag_{dest}", type=spec["type"], choices=spec["choices"],
                           metavar=None if spec["choices"] else dest.upper(), help=spec["help"])


def method_flags(args) -> dict:
    """The method flags given, by `cli_flags` name (not given: left out)."""
    out = {}
    for dest, spec in method_flag_specs().items():
        value = getattr(args, f"method_flag_{dest}", None)
        if value is not None:
            out[dest] = (not spec["negate"]) if spec["type"] is bool else value
    return out


def method_overrides(name: str, flags: dict) -> dict:
    """Method flags as a nested dict in method `name`'s config shape; a flag it does not take is refused."""
    from agiqa.methods.registry import method_config_class

    mapping = method_config_class(name).cli_flags
    specs = method_flag_specs()
    out: dict = {"name": name}
    for flag, value in flags.items():
        if flag not in mapping:
            takes = ", ".join(specs[f]["option"] for f in mapping if f in specs) or "none"
            option = specs[flag]["option"] if flag in specs else "--" + flag.replace("_", "-")
            raise ConfigError(f"{option} does not apply to method {name!r} (it takes: {takes})")
        node = out
        *parents, leaf = mapping[flag].split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out
