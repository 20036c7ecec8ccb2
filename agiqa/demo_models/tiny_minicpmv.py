"""A tiny random MiniCPM-Llama3-V 2.5 folder in the *released* layout, offline, in seconds.

What `openbmb/MiniCPM-Llama3-V-2_5` + `strawhat/minicpm2.5-*-ft` give a user, at toy sizes:

    DIR/config.json                model_type minicpmv, version 2.5, Llama fields at the top level,
                                   vision_config (idefics2), query_num, slice_config, auto_map
    DIR/model-0000{1,2}-of-00002.safetensors + model.safetensors.index.json   names vpm.*, resampler.*, llm.*
    DIR/tokenizer.json             byte-level BPE trained locally, with the Llama-3 specials and
                                   <image> </image> <slice> </slice> <unk>
    DIR/tokenizer_config.json      naming the release's remote tokenizer class (which agiqa never runs)
    DIR/preprocessor_config.json   scale 448, 9 slices, patch 14
    DIR/adapters/<aspect>/         PEFT LoRA on the release's regex targets, modules_to_save =
                                   embed_tokens, resampler, vpm (their copies perturbed, so they matter)
    DIR/heads/<aspect>/            M3 heads (random)
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from agiqa.aspects import ASPECTS

LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
                   "<unk>", "<image>", "</image>", "<slice>", "</slice>"]
#: The release's LoRA targets and fully trained modules (MiniCPM-V finetune.py, METHODS.md 2.4).
RELEASED_LORA_TARGETS = r"llm\..*layers\.\d+\.self_attn\.(q_proj|k_proj|v_proj|o_proj)"
RELEASED_MODULES_TO_SAVE = ["embed_tokens", "resampler", "vpm"]
LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")


def build_tiny_minicpmv(out: str | Path, seed: int = 0, query_num: int = 16, hidden_size: int = 128,
                        vision_hidden: int = 32, head_dim: int = 32, lora_rank: int = 4,
                        with_adapters: bool = True, llm_config: dict | None = None, vision_config: dict | None = None,
                        vocab_size_padded: int | None = None, adapters: str = "released",
                        save_dtype: str = "float32") -> Path:
    """`llm_config` / `vision_config` / `vocab_size_padded` override the shapes (benchmarks build
    MiniCPM-Llama3-V-2.5's own: `bench/bench_gpu_engine.py`); `adapters="lm"` writes LoRA on the
    language model only (what vLLM serves) instead of the released layout (`modules_to_save`);
    `save_dtype` is the dtype of the saved weights."""
    import torch
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import save_file

    from agiqa.demo_models.tokenizer import train_tokenizer
    from agiqa.engines.minicpmv.model import MiniCPMV25
    from agiqa.model.head import M3Head
    from agiqa.model.head_config import M3HeadConfig
    from agiqa.model.prompts import PROMPT_SETS

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    texts = [t for ps in PROMPT_SETS.values() for d in (ps.round1, ps.round2) for t in d.values()]
    tok = train_tokenizer(texts, vocab_size=1024, seed=seed, special_tokens=LLAMA3_SPECIALS,
                          eos_token="<|end_of_text|>", pad_token="<|end_of_text|>", chat_template=None)
    ids = {t: tok.convert_tokens_to_ids(t) for t in LLAMA3_SPECIALS}
    cfg = {
        "architectures": ["MiniCPMV"], "model_type": "minicpmv", "version": 2.5,
        "auto_map": {"AutoConfig": "configuration_minicpm.MiniCPMVConfig", "AutoModel": "modeling_minicpmv.MiniCPMV",
                     "AutoModelForCausalLM": "modeling_minicpmv.MiniCPMV"},
        "attention_bias": False, "attention_dropout": 0.0, "hidden_act": "silu", "hidden_size": hidden_size,
        "intermediate_size": 2 * hidden_size, "num_attention_heads": 4, "num_hidden_layers": 2,
        "num_key_value_heads": 2, "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
        "rope_scaling": None, "tie_word_embeddings": False, "vocab_size": (len(tok) + 63) // 64 * 64,
        "bos_token_id": ids["<|begin_of_text|>"], "eos_token_id": ids["<|end_of_text|>"], "use_cache": True,
        "batch_vision_input": True, "drop_vision_last_layer": False, "image_size": 448, "patch_size": 14,
        "query_num": query_num, "mm_use_im_start_end": True, "slice_mode": True,
        "slice_config": {"max_slice_nums": 9, "patch_size": 14, "model_type": "minicpmv"},
        "vision_config": {"hidden_size": vision_hidden, "image_size": 980, "intermediate_size": 2 * vision_hidden,
                          "model_type": "idefics2", "num_attention_heads": 2, "num_hidden_layers": 2,
                          "patch_size": 14},
        "torch_dtype": save_dtype, "transformers_version": "4.40.0",
    }
    cfg.update(llm_config or {})
    cfg["vision_config"].update(vision_config or {})
    if vocab_size_padded:
        cfg["vocab_size"] = vocab_size_padded
    dtype = getattr(torch, save_dtype)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # real sizes: built in the saved dtype (an 8B model in fp32 is 34 GB)
    try:
        model = MiniCPMV25(cfg).to(dtype).eval()
    finally:
        torch.set_default_dtype(default)
    with torch.no_grad():  # a trained LM head's logit scale (see tiny_model.py), so generation is not flat
        model.llm.lm_head.weight.normal_(0.0, 2.0 / cfg["hidden_size"] ** 0.5)
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    state = {k: v.detach().to(getattr(torch, save_dtype)).contiguous() for k, v in model.state_dict().items()}
    shards = {"model-00001-of-00002.safetensors": {k: v for k, v in state.items() if not k.startswith("llm.")},
              "model-00002-of-00002.safetensors": {k: v for k, v in state.items() if k.startswith("llm.")}}
    for name, part in shards.items():
        save_file(part, str(out / name), metadata={"format": "pt"})
    (out / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": {k: n for n, part in shards.items() for k in part}}, indent=1) + "\n")
    tok.save_pretrained(out)
    tconf = json.loads((out / "tokenizer_config.json").read_text())
    tconf.update({"tokenizer_class": "MiniCPMVTokenizerFast", "bos_token": "<|begin_of_text|>",
                  "eos_token": "<|end_of_text|>", "unk_token": "<unk>", "chat_template": LLAMA3_TEMPLATE,
                  "auto_map": {"AutoTokenizer": ["tokenization_minicpmv_fast.MiniCPMVTokenizerFast", None]}})
    (out / "tokenizer_config.json").write_text(json.dumps(tconf, indent=2) + "\n")
    (out / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "MiniCPMVImageProcessor", "processor_class": "MiniCPMVProcessor",
        "auto_map": {"AutoImageProcessor": "image_processing_minicpmv.MiniCPMVImageProcessor",
                     "AutoProcessor": "processing_minicpmv.MiniCPMVProcessor"},
        "max_slice_nums": 9, "scale_resolution": 448, "patch_size": 14, "image_feature_size": query_num,
        "im_start": "<image>", "im_end": "</image>", "slice_start": "<slice>", "slice_end": "</slice>",
        "unk": "<unk>", "norm_mean": [0.5, 0.5, 0.5], "norm_std": [0.5, 0.5, 0.5], "version": 2.5}, indent=2) + "\n")

    if with_adapters:
        for i, aspect in enumerate(ASPECTS):
            torch.manual_seed(seed * 1000 + i + 1)
            lcfg = LoraConfig(r=lora_rank, lora_alpha=lora_rank, lora_dropout=0.0, target_modules=RELEASED_LORA_TARGETS,
                              modules_to_save=list(RELEASED_MODULES_TO_SAVE) if adapters == "released" else None,
                              init_lora_weights=False)
            peft_model = get_peft_model(copy.deepcopy(model) if adapters == "released" else model, lcfg)
            with torch.no_grad():  # fully trained copies differ from the base, as the released ones do
                for name, p in peft_model.named_parameters():
                    if ".modules_to_save." in name:
                        p.add_(torch.randn_like(p) * 0.05 * (p.std() if p.numel() > 1 else 1.0))
            peft_model.save_pretrained(out / "adapters" / aspect)
            if adapters != "released":
                model = peft_model.unload()  # LoRA only: the base is unchanged once its LoRA layers are removed
            acfg_path = out / "adapters" / aspect / "adapter_config.json"
            acfg = json.loads(acfg_path.read_text())
            acfg.pop("auto_mapping", None)  # written for custom classes; the released adapters have none
            acfg["base_model_name_or_path"] = "openbmb/MiniCPM-Llama3-V-2_5"
            acfg_path.write_text(json.dumps(acfg, indent=2) + "\n")
    for i, aspect in enumerate(ASPECTS):
        torch.manual_seed(seed * 1000 + 100 + i)
        hcfg = M3HeadConfig(hidden_size=cfg["hidden_size"], embedding_dim=head_dim, context_length=1024, aspect=aspect,
                            trained=False, notes={"init": "random", "source": "agiqa tiny MiniCPM-V 2.5"})
        M3Head(hcfg).save(out / "heads" / aspect)
    (out / "agiqa_model.json").write_text(json.dumps({
        "kind": "tiny-random", "family": "minicpmv-2.5", "seed": seed, "aspects": list(ASPECTS),
        "note": "random weights in the released MiniCPM-Llama3-V-2.5 layout, for tests"}, indent=2) + "\n")
    return out
