"""Shared settings; fixtures live in the `tests.fixtures` package, registered here as plugins."""

from __future__ import annotations

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = ["tests.fixtures.model", "tests.fixtures.ray", "tests.fixtures.s3", "tests.fixtures.shards"]
