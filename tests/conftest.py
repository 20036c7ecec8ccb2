"""Shared fixtures. Area-specific fixtures live in fixtures_*.py modules registered here."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = [p[:-3] for p in sorted(os.listdir(os.path.dirname(__file__))) if p.startswith("fixtures_") and p.endswith(".py")]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random-weight Qwen2-VL with adapters and heads, built once per test session."""
    from agiqa.model.tiny import build_tiny_model

    out = tmp_path_factory.mktemp("tiny") / "model"
    build_tiny_model(out, seed=0)
    return out
