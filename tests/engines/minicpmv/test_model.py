"""The MiniCPM-V 2.5 family loads a folder in the released layout as it is, with no remote code, and the
released kind of PEFT adapter (regex targets + modules_to_save vpm/resampler/embed_tokens) unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image


def test_released_layout_loads_without_remote_code(tiny_minicpmv_dir):
    from agiqa.engines.minicpmv.inputs import MiniCPMVInputs
    from agiqa.engines.minicpmv.model import MiniCPMV25

    cfg = json.loads((tiny_minicpmv_dir / "config.json").read_text())
    assert cfg["model_type"] == "minicpmv" and cfg["version"] == 2.5 and "auto_map" in cfg
    assert json.loads((tiny_minicpmv_dir / "tokenizer_config.json").read_text())["tokenizer_class"] == \
        "MiniCPMVTokenizerFast"
    assert not list(tiny_minicpmv_dir.glob("*.py"))  # nothing to execute, nothing executed
    names = set(json.loads((tiny_minicpmv_dir / "model.safetensors.index.json").read_text())["weight_map"])
    assert {n.split(".")[0] for n in names} == {"vpm", "resampler", "llm"}
    assert "llm.lm_head.weight" in names and "llm.model.embed_tokens.weight" in names
    model = MiniCPMV25.from_pretrained(tiny_minicpmv_dir)
    assert set(model.state_dict()) == names
    tok = MiniCPMVInputs(tiny_minicpmv_dir).tokenizer
    specials = ["<|begin_of_text|>", "<|eot_id|>", "<image>", "</image>", "<slice>", "</slice>", "<unk>"]
    ids = [tok.convert_tokens_to_ids(t) for t in specials]
    assert len(set(ids)) == len(ids)
    assert tok.encode("<image><unk><unk></image>", add_special_tokens=False) == [ids[2], ids[6], ids[6], ids[3]]


def test_a_folder_of_another_kind_is_refused(tmp_path):
    from agiqa.engines.minicpmv.model import MiniCPMV25

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "minicpmv", "version": 2.6}))
    with pytest.raises(ValueError, match="not a MiniCPM-V 2.5"):
        MiniCPMV25.from_pretrained(tmp_path)


@torch.no_grad()
def test_adapters_with_modules_to_save_load_unchanged(tiny_minicpmv_dir):
    """Each aspect's vision path equals a plain model whose vpm/resampler/embeddings were overwritten with
    that adapter file's full copies (read straight from the safetensors, not through peft)."""
    from peft import PeftModel
    from safetensors.torch import load_file

    from agiqa.engines.minicpmv.inputs import MiniCPMVInputs
    from agiqa.engines.minicpmv.model import MiniCPMV25

    inputs = MiniCPMVInputs(tiny_minicpmv_dir)
    img = Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 500, 3), dtype=np.uint8))
    enc = inputs.encode(img, [("user", "rate it")], 9, 4096, False)
    peft = PeftModel.from_pretrained(MiniCPMV25.from_pretrained(tiny_minicpmv_dir),
                                     str(tiny_minicpmv_dir / "adapters" / "quality"), adapter_name="quality")
    peft.load_adapter(str(tiny_minicpmv_dir / "adapters" / "authenticity"), adapter_name="authenticity")
    base = peft.get_base_model()
    feats = {}
    for aspect in ("quality", "authenticity"):
        peft.set_adapter(aspect)
        feats[aspect] = base.vision_features(enc.images)
        plain = MiniCPMV25.from_pretrained(tiny_minicpmv_dir)
        saved = load_file(str(tiny_minicpmv_dir / "adapters" / aspect / "adapter_model.safetensors"))
        full = {k[len("base_model.model."):]: v for k, v in saved.items() if "lora_" not in k}
        assert any(k.startswith("vpm.") for k in full) and any(k.startswith("resampler.") for k in full)
        assert "llm.model.embed_tokens.weight" in full
        plain.load_state_dict(full, strict=False)
        assert (feats[aspect] - plain.vision_features(enc.images)).abs().max().item() < 1e-5
    with peft.disable_adapter():
        plain_base = base.vision_features(enc.images)
    assert (feats["quality"] - feats["authenticity"]).abs().max().item() > 1e-3
    assert (feats["quality"] - plain_base).abs().max().item() > 1e-3


@torch.no_grad()
def test_merge_adapter_writes_the_released_layout_equal_to_base_plus_adapter(tiny_minicpmv_dir, tmp_path):
    from peft import PeftModel

    from agiqa.cli import main
    from agiqa.engines.minicpmv.inputs import MiniCPMVInputs
    from agiqa.engines.minicpmv.model import MiniCPMV25

    out = tmp_path / "merged"
    assert main(["merge-adapter", "--model", str(tiny_minicpmv_dir), "--adapter",
                 str(tiny_minicpmv_dir / "adapters" / "quality"), "--output", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["model_type"] == "minicpmv"
    merged = MiniCPMV25.from_pretrained(out)
    unmerged = PeftModel.from_pretrained(MiniCPMV25.from_pretrained(tiny_minicpmv_dir),
                                         str(tiny_minicpmv_dir / "adapters" / "quality")).get_base_model()
    inputs = MiniCPMVInputs(out)
    img = Image.fromarray(np.random.default_rng(2).integers(0, 255, (200, 300, 3), dtype=np.uint8))
    enc = inputs.encode(img, [("user", "rate it"), ("assistant", "fine"), ("user", "score?")], 9, 512, False)
    ids = torch.tensor([enc.ids])
    hs = [m.hidden_states(m.embed(ids, [enc.bounds], [m.vision_features(enc.images)]), torch.ones_like(ids))
          for m in (merged, unmerged)]
    assert (hs[0] - hs[1]).abs().max().item() < 1e-4
