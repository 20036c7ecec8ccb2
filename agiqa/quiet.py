"""Library progress bars and warnings stay out of logs that are not a terminal.

A piped or collected log (CI, Kubernetes, `ray job logs`, `> run.log`) gets tqdm bars as
carriage-return soup and the same library warning per worker; agiqa's own progress lines say
what matters there. On a terminal nothing changes: bars are useful when someone watches.

Everything here is environment switches set before the libraries are imported (tqdm reads `TQDM_*`,
transformers and huggingface_hub read theirs at import), with `setdefault`, so a user's own
setting wins; a library already imported (by a program embedding `agiqa.cli.main`) is left as it is. The variables also reach child processes (torchrun workers, a local Ray).
"""

from __future__ import annotations

import os
import sys
import warnings

#: Environment switches for a non-terminal log (also given to every Ray actor, whose output is always piped).
QUIET_ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # huggingface_hub, and transformers' "Loading weights" bars
    "TQDM_DISABLE": "1",  # every other tqdm bar (HF Trainer's, "Writing model shards", datasets)
    "TRANSFORMERS_VERBOSITY": "error",  # transformers' logger warnings (advice meant for notebooks)
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}

#: Libraries whose Python warnings (deprecations, "this is slow on CPU") are left out of such logs.
NOISY_LIBRARIES = ("torch", "transformers", "peft", "accelerate", "huggingface_hub", "tokenizers", "ray", "xlstm",
                   "vllm", "torchvision", "timm", "pyarrow", "botocore")


def is_terminal() -> bool:
    return sys.stderr.isatty()


def quiet_libraries() -> bool:
    """When stderr is not a terminal: library bars off, library warnings off. True when it acted."""
    if is_terminal():
        return False
    for k, v in QUIET_ENV.items():
        os.environ.setdefault(k, v)
    pattern = "(" + "|".join(NOISY_LIBRARIES) + r")(\.|$)"
    warnings.filterwarnings("ignore", module=pattern)
    return True
