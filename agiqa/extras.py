"""Which optional install ("extra") a job needs, checked before any work.

`pip install agiqa` is the light install: ingest, eval, filter/audit and reading outputs
(pyarrow, Pillow, numpy, boto3, ...). Scoring and training need torch, transformers, PEFT, xLSTM
and Ray: `pip install 'agiqa[score]'` / `'agiqa[train]'` (or `'agiqa[all]'`). A job that needs a
missing one is refused in one line naming the extra, not with an ImportError traceback.
"""

from __future__ import annotations

import importlib.util

from agiqa.errors import ConfigError


def missing_modules(modules) -> list[str]:
    """Those of `modules` (top-level import names) that cannot be imported here."""
    out = []
    for m in dict.fromkeys(modules):
        try:
            found = importlib.util.find_spec(m) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(m)
    return out


def require(extra: str, modules, what: str) -> None:
    """ConfigError naming `extra` when any of `modules` is not installed."""
    missing = missing_modules(modules)
    if missing:
        raise ConfigError(f"{what} needs {', '.join(missing)}, which the light install leaves out: "
                          f"pip install 'agiqa[{extra}]'")


#: What each heavy command imports (top-level names), and the extra that brings it.
COMMAND_NEEDS = {
    "make-tiny-model": ("train", ("torch", "transformers", "peft", "xlstm", "safetensors", "tokenizers")),
    "finetune": ("train", ("torch", "transformers", "peft")),
    "train-head": ("train", ("torch", "transformers", "peft", "xlstm")),
    "merge-adapter": ("train", ("torch", "transformers", "peft")),
    "import-reference-head": ("score", ("torch", "safetensors")),
}


def require_command(name: str) -> None:
    """ConfigError, before any work, when command `name` needs what the light install leaves out."""
    if name in COMMAND_NEEDS:
        extra, modules = COMMAND_NEEDS[name]
        require(extra, modules, f"agiqa {name}")
