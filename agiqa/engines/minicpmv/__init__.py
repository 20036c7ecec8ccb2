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
"""
