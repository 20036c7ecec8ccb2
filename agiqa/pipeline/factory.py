"""Build the real M3-AGIQA batch processor from a validated `JobConfig`.

Everything that can be checked before the engine starts is checked here (heads present for
every aspect, head width equal to the model's hidden size, head context long enough), so a
job refuses bad configuration before touching any shard.
"""

from __future__ import annotations

import logging
from pathlib import Path

from agiqa.model.prompts import get_prompt_set

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """Configuration that cannot work; raised before any work starts."""


def check_model_files(cfg) -> None:
    """Fail fast, without loading anything heavy, on missing model, adapter or head folders."""
    e = cfg.engine
    if not (Path(e.model) / "config.json").is_file():
        raise ConfigError(f"engine.model: no Hugging Face model at {e.model} (config.json missing)")
    for a in cfg.aspects:
        head = Path(e.heads_dir) / a
        if not (head / "head_config.json").is_file():
            raise ConfigError(f"no M3 head for aspect {a!r} at {head} (head_config.json missing)")
    if e.adapters is not None and not Path(e.adapters).is_dir():
        raise ConfigError(f"engine.adapters: {e.adapters} is not a folder")
    get_prompt_set(e.prompt_set)


def load_heads(cfg, hidden_size: int, device) -> dict:
    from agiqa.model.head import M3Head

    heads = {}
    for a in cfg.aspects:
        head = M3Head.load(Path(cfg.engine.heads_dir) / a, device=device)
        hc = head.config
        if hc.hidden_size != hidden_size:
            raise ConfigError(
                f"head {a!r} expects hidden size {hc.hidden_size} but the model has {hidden_size}: "
                "it was trained for another base model"
            )
        if hc.context_length < cfg.engine.max_length:
            raise ConfigError(
                f"head {a!r} has context_length {hc.context_length} < engine.max_length {cfg.engine.max_length}"
            )
        if not hc.trained:
            log.warning("head %r is untrained (random init): its scores carry no meaning", a)
        heads[a] = head
    return heads


def build_processor(cfg):
    """The M3 processor for `cfg`: engine with all aspects' adapters, one head per aspect."""
    from agiqa.engines import build_engine
    from agiqa.pipeline.scorer import M3Processor

    check_model_files(cfg)
    engine = build_engine(cfg.engine, tuple(cfg.aspects))
    try:
        heads = load_heads(cfg, engine.hidden_size, getattr(engine, "device", "cpu"))
    except Exception:
        engine.close()
        raise
    return M3Processor(engine, heads, get_prompt_set(cfg.engine.prompt_set), cfg)
