"""Only safetensors weights load: a folder whose weights are pickles is refused up front, in one line.

Why: a pickle (`torch.save`: `pytorch_model.bin`, `adapter_model.bin`, `*.pt`, `*.ckpt`) can run
code when it is loaded, and agiqa loads folders and adapters given on a command line or by a job
config, often downloaded. Left to them, transformers and peft would `torch.load` such a file, and a
refusal surfaces as a traceback ending in PyTorch's hint to "set weights_only=False", the one thing
not to do with a file you did not make. safetensors holds tensors only. Converting is one load and
one `save_pretrained` on a trusted machine (both libraries write safetensors by default).

The check runs where a setup is validated (`method.check`, the training commands), before any
model loads, and again where an engine resolves its adapters (a library caller who skipped it).
"""

from __future__ import annotations

from pathlib import Path

from agiqa.errors import ConfigError

#: Suffixes of pickled PyTorch weights.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")

#: Files that are pickles but not weights (saved beside a checkpoint by HF Trainer); never loaded by agiqa.
NOT_WEIGHTS = ("training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state.pth", "scaler.pt")

ADVICE = ("agiqa loads only safetensors (a pickle can run code when loaded); convert it on a trusted machine: "
          "load it there with transformers or peft and save_pretrained(DIR), which writes safetensors")


def pickled_weights(folder: str | Path) -> list[str]:
    """Names of pickled weight files in `folder` when it holds no safetensors (empty: nothing to refuse)."""
    folder = Path(folder)
    if not folder.is_dir() or any(folder.glob("*.safetensors")):
        return []
    return sorted(f.name for f in folder.iterdir()
                  if f.is_file() and f.suffix in PICKLE_SUFFIXES and f.name not in NOT_WEIGHTS)


def refuse_pickled(folder: str | Path, what: str) -> None:
    """ConfigError (one line, exit 2 from the CLI) when `folder`'s weights are only pickles."""
    found = pickled_weights(folder)
    if found:
        raise ConfigError(f"{what} {folder}: its weights are a pickle ({', '.join(found[:3])}); {ADVICE}")

