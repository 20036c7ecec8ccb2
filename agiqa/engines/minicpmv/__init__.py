"""MiniCPM-Llama3-V 2.5, the base model of the authors' M3-AGIQA, written with transformers' building blocks.

The released folder (`openbmb/MiniCPM-Llama3-V-2_5`) ships remote code written for transformers
~4.40; we never execute it. Its parts exist in transformers as library classes (the SigLIP/NaViT
vision tower is `Idefics2VisionTransformer`, the language model `LlamaForCausalLM`); the resampler
is one cross-attention layer, written here. Parameter names are the released ones (`vpm.*`,
`resampler.*`, `llm.*`), so the released weights and PEFT adapters (with `modules_to_save`) load
unchanged.

    slicing.py     the reference's image slicing, placeholders and pixel layout (pure PIL/math/torch)
    resampler.py   the 2-D sin-cos perceiver resampler (query_num learned queries)
    model.py       MiniCPMV25: vision tower + resampler + Llama, loading a released folder
    inputs.py      tokenizer, the reference's Llama-3 template, token ids, image bounds, truncation
    engine.py      the `Engine` for this family (round 1 by beam search, the scoring pass)
    merge.py       merge an adapter (LoRA + modules_to_save) into a plain checkpoint, released layout
  vLLM, without the release's remote code:
    hf_config.py   the released config.json as a transformers config class (for AutoConfig)
    image_processor.py   the image processor vLLM's MiniCPM-V support asks for, built on slicing.py
    vllm_model.py  vLLM's MiniCPMV2_5 registered with agiqa's processing and the reference's vision pass
    vllm_plugin.py registration (in-process and via the `vllm.general_plugins` entry point)
    vllm_engine.py the `Engine` on vLLM (round 1 greedy or vLLM's beam search, pooling for hidden states)
"""
