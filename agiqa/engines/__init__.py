"""Engines run the MLLM: round-1 descriptions and the teacher-forced hidden-state pass.

Two implementations behind one interface (`base.Engine`): `hf` (transformers + peft, CPU or
GPU) and `vllm`. `build_engine(cfg)` picks one; the parity tests hold them to the same outputs.
"""

from __future__ import annotations


def build_engine(engine_cfg, aspects):
    """Build the engine named by `engine_cfg.name` for the given aspects."""
    from agiqa.engines.minicpmv.model import is_minicpmv25

    if is_minicpmv25(engine_cfg.model):
        if engine_cfg.name == "vllm":
            from agiqa.engines.minicpmv.vllm_engine import MiniCPMVVLLMEngine

            return MiniCPMVVLLMEngine(engine_cfg, aspects)
        from agiqa.engines.minicpmv.engine import MiniCPMVEngine

        return MiniCPMVEngine(engine_cfg, aspects)
    if engine_cfg.name == "hf":
        from agiqa.engines.hf import HFEngine

        return HFEngine(engine_cfg, aspects)
    if engine_cfg.name == "vllm":
        from agiqa.engines.vllm import VLLMEngine

        return VLLMEngine(engine_cfg, aspects)
    raise ValueError(f"unknown engine {engine_cfg.name!r}; use 'hf' or 'vllm'")
