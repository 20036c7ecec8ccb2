"""Importing the reference's predictor checkpoints: heads trained with xLSTM's CUDA sLSTM backend.

The "reference" here is built with xLSTM's real classes as the reference code builds it (backend "cuda",
the CUDA cell class constructed on CPU with its kernel compilation stubbed), saved under the reference's
Lightning keys. The expected scores come from the reference's explicit path, `W(lm_head(h))` -> xLSTM ->
mean -> MLP, where the xLSTM runs as xLSTM's own vanilla stack given the CUDA cells' parameters through
xLSTM's backend-independent accessors (`cell.recurrent_kernel[...]`, `cell.bias[...]`): nothing of agiqa's.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

EMB, HIDDEN, VOCAB, CTX = 32, 24, 200, 64


def _stack(backend: str):
    from xlstm import (
        FeedForwardConfig,
        mLSTMBlockConfig,
        mLSTMLayerConfig,
        sLSTMBlockConfig,
        sLSTMLayerConfig,
        xLSTMBlockStack,
        xLSTMBlockStackConfig,
    )

    # the reference's xLSTMPooler (models/MiniCPM.py), at a small width
    return xLSTMBlockStack(xLSTMBlockStackConfig(
        mlstm_block=mLSTMBlockConfig(mlstm=mLSTMLayerConfig(conv1d_kernel_size=4, qkv_proj_blocksize=4, num_heads=4)),
        slstm_block=sLSTMBlockConfig(
            slstm=sLSTMLayerConfig(backend=backend, num_heads=4, conv1d_kernel_size=4,
                                   bias_init="powerlaw_blockdependent"),
            feedforward=FeedForwardConfig(proj_factor=1.3, act_fn="gelu")),
        context_length=CTX, num_blocks=4, embedding_dim=EMB, slstm_at=[1]))


@pytest.fixture
def reference(monkeypatch):
    import xlstm.blocks.slstm.cell as cell_mod

    monkeypatch.setattr(cell_mod, "sLSTMCellFuncGenerator", lambda training, config: None)  # no nvcc here
    torch.manual_seed(0)
    stack = _stack("cuda")
    cells = [m for m in stack.modules() if isinstance(m, cell_mod.sLSTMCell_cuda)]
    assert len(cells) == 1
    with torch.no_grad():
        for p in stack.parameters():
            p.normal_(0.0, 0.3)
    w, fc = nn.Linear(VOCAB, EMB), nn.Sequential(nn.Linear(EMB, 128), nn.ReLU(), nn.Linear(128, 1))
    lm_w = torch.randn(VOCAB, HIDDEN) / HIDDEN**0.5
    state = {"model.W." + k: v for k, v in w.state_dict().items()}
    state.update({"model.fc." + k: v for k, v in fc.state_dict().items()})
    state.update({"model.xlstm_pooler.xlstm_stack." + k: v.clone() for k, v in stack.state_dict().items()})
    return stack, cells[0], w, fc, lm_w, state


@torch.no_grad()
def _explicit(stack_cuda, cuda_cell, w, fc, lm_w, seqs):
    """The reference's forward, batch 1, with the stack run by xLSTM's vanilla backend."""
    import xlstm.blocks.slstm.cell as cell_mod

    van = _stack("vanilla")
    src = dict(stack_cuda.named_parameters())
    for name, p in van.named_parameters():
        if not name.endswith(("._recurrent_kernel_", "._bias_")):
            p.copy_(src[name])
    (vcell,) = [m for m in van.modules() if isinstance(m, cell_mod.sLSTMCell_vanilla)]
    vcell.recurrent_kernel[:] = cuda_cell.recurrent_kernel[:].float()
    vcell.bias[:] = cuda_cell.bias[:].float()
    return torch.stack([fc(van(w(h @ lm_w.T)[None]).mean(1)).squeeze() for h in seqs])


def test_cuda_backend_checkpoint_imports_to_the_reference_scores(reference, tmp_path):
    from agiqa.model.reference_import import import_reference_head, read_state_dict

    stack, cell, w, fc, lm_w, state = reference
    kernel = state["model.xlstm_pooler.xlstm_stack.blocks.1.xlstm.slstm_cell._recurrent_kernel_"]
    assert tuple(kernel.shape) == (4, EMB // 4, 4 * EMB // 4)  # the CUDA layout [NH, DH, 4*DH]
    ckpt = tmp_path / "agiqa-3k" / "alignment" / "best-epoch=14-val_SRCC=0.87.ckpt"
    ckpt.parent.mkdir(parents=True)
    torch.save({"state_dict": state, "epoch": 14}, ckpt)
    head = import_reference_head(read_state_dict(ckpt), lm_w, None, context_length=CTX, aspect="correspondence",
                                 max_length=CTX, max_slices=9)
    assert head.config.notes["imported_from"].startswith("M3-AGIQA")  # what jobs read (ImageLimits.for_method)
    seqs = [torch.randn(n, HIDDEN) for n in (7, 40, 64)]
    want = _explicit(stack, cell, w, fc, lm_w, seqs)
    got = head.score(seqs, clamp=False)
    assert (got - want).abs().max().item() < 1e-4
    assert want.std().item() > 1e-3  # the sequences give different scores: the comparison has teeth
    assert (head.config.max_length, head.config.max_slice_nums) == (CTX, 9)


def test_an_unconverted_load_fails_loudly(reference):
    from agiqa.model.head import M3Head
    from agiqa.model.head_config import M3HeadConfig

    *_, state = reference
    head = M3Head(M3HeadConfig(hidden_size=HIDDEN, embedding_dim=EMB, context_length=CTX))
    raw = {"xlstm." + k[len("model.xlstm_pooler.xlstm_stack."):]: v for k, v in state.items() if "xlstm_stack" in k}
    with pytest.raises(RuntimeError, match="size mismatch"):
        head.load_state_dict(raw, strict=False)


def test_another_kernel_layout_is_refused_in_one_line(reference):
    from agiqa.model.reference_import import import_reference_head

    *_, lm_w, state = reference
    key = "model.xlstm_pooler.xlstm_stack.blocks.1.xlstm.slstm_cell._recurrent_kernel_"
    bad = {**state, key: torch.zeros(4, 3, 5)}
    with pytest.raises(ValueError, match="neither the CUDA backend's") as e:
        import_reference_head(bad, lm_w, None, context_length=CTX)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("path,hparams,flags,want", [
    ("x/aigciqa-30k/quality/best-epoch=11-val_SRCC=0.89.ckpt", {}, (None, None), (768, 4)),
    ("x/agiqa-3k/alignment/best.ckpt", {}, (None, None), (512, 9)),
    ("x/aigciqa2023/authenticity/best.ckpt", {}, (None, None), (512, 9)),
    ("x/mine.ckpt", {"model_max_length": 640, "max_slice_nums": 6}, (None, None), (640, 6)),
    ("x/aigciqa-30k/q.ckpt", {}, (1024, None), (1024, 4)),
])
def test_scoring_inputs_of_the_released_checkpoints(path, hparams, flags, want):
    from agiqa.model.reference_import import scoring_inputs

    assert scoring_inputs(path, hparams, *flags) == want


def test_unknown_scoring_inputs_are_refused():
    from agiqa.model.reference_import import scoring_inputs

    with pytest.raises(ValueError, match="--max-length and --max-slices"):
        scoring_inputs("x/mine.ckpt", {}, None, None)


def test_cli_imports_onto_the_released_minicpmv_layout_and_records_the_inputs(reference, tmp_path, capsys):
    """`agiqa import-reference-head` reads W's LM head from a sharded MiniCPM-V 2.5 folder (`llm.lm_head`)
    and records the released file's 768 / 4; a checkpoint it cannot place is refused in one line."""
    import json

    from agiqa.cli import main
    from agiqa.demo_models.tiny_minicpmv import build_tiny_minicpmv

    *_, state = reference
    model = build_tiny_minicpmv(tmp_path / "m", hidden_size=128, with_adapters=False)
    from safetensors import safe_open

    with safe_open(str(model / "model-00002-of-00002.safetensors"), "pt") as f:
        vocab = f.get_tensor("llm.lm_head.weight").shape[0]
    state = {**state, "model.W.weight": torch.randn(EMB, vocab) / vocab**0.5, "model.W.bias": torch.zeros(EMB)}
    ckpt = tmp_path / "aigciqa-30k" / "quality" / "best-epoch=11-val_SRCC=0.89.ckpt"
    ckpt.parent.mkdir(parents=True)
    torch.save({"state_dict": state}, ckpt)
    out = tmp_path / "heads" / "quality"
    assert main(["import-reference-head", "--checkpoint", str(ckpt), "--model", str(model), "--aspect", "quality",
                 "--output", str(out)]) == 0
    cfg = json.loads((out / "head_config.json").read_text())
    assert (cfg["max_length"], cfg["max_slice_nums"], cfg["context_length"], cfg["hidden_size"]) == (768, 4, 768, 128)
    other = tmp_path / "mine.ckpt"
    torch.save({"state_dict": state}, other)
    capsys.readouterr()
    assert main(["import-reference-head", "--checkpoint", str(other), "--model", str(model), "--aspect", "quality",
                 "--output", str(tmp_path / "h2")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--max-length and --max-slices" in err and "\n" not in err
