"""`--rank R --world-size N` on every command that runs a job over shards (`score`, `filter`), and
the environment a launcher sets for N copies of one command: `AGIQA_RANK` / `AGIQA_WORLD_SIZE`
(a Slurm array: `AGIQA_RANK=$SLURM_ARRAY_TASK_ID AGIQA_WORLD_SIZE=$SLURM_ARRAY_TASK_COUNT`, with
`--array=0-(N-1)`). A flag wins over the environment, the environment over the YAML's
`runner.rank` / `runner.world_size`. See docs/ranks.md.
"""

from __future__ import annotations

import os

RANK_ENV = "AGIQA_RANK"
WORLD_SIZE_ENV = "AGIQA_WORLD_SIZE"


def add_rank_arguments(p) -> None:
    g = p.add_argument_group("many drivers over one dataset (docs/ranks.md)")
    g.add_argument("--rank", type=int, metavar="R",
                   help=f"This driver's rank, 0..N-1: it runs the shards whose name hashes to R (default: "
                        f"${RANK_ENV}, else runner.rank from --config, else 0).")
    g.add_argument("--world-size", type=int, metavar="N",
                   help=f"How many drivers split the shards (default: ${WORLD_SIZE_ENV}, else runner.world_size "
                        f"from --config, else 1).")


def rank_overrides(args, environ=None) -> dict:
    """`{"rank": R, "world_size": N}` for the runner section (None: not given), from the flags, else
    the environment; a ConfigError in one line for an environment value that is not a whole number,
    or a world size from the environment without a rank (every copy would be rank 0)."""
    from agiqa.errors import ConfigError

    env = os.environ if environ is None else environ
    out = {"rank": getattr(args, "rank", None), "world_size": getattr(args, "world_size", None)}
    for key, name in (("rank", RANK_ENV), ("world_size", WORLD_SIZE_ENV)):
        if out[key] is None and env.get(name, "").strip():
            try:
                out[key] = int(env[name])
            except ValueError:
                raise ConfigError(f"{name}={env[name]!r} is not a whole number") from None
            out[f"{key}_from_env"] = True
    if out.pop("world_size_from_env", False) and out["world_size"] > 1 and out["rank"] is None:
        raise ConfigError(f"{WORLD_SIZE_ENV}={out['world_size']} is set but neither {RANK_ENV} nor --rank is: "
                          "every copy would be rank 0")
    out.pop("rank_from_env", None)
    return out
