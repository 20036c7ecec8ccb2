"""Demo material: complete random-weight model folders in the real release formats, built offline.

What `agiqa make-tiny-model` (each method's `tiny_model_entry`), `agiqa.demo`, the tests and the
benchmarks build models with. Shipped code, but never imported by the library's scoring path (a test
checks the import direction); test fakes live apart, in `agiqa.testing`.

    tiny_entries.py     make-tiny-model's build per method (M3-AGIQA, CLIP-AGIQA)
    tiny_model.py       random-weight Qwen2-VL + adapters + heads
    tiny_qwen25.py      the same on a Qwen2.5-VL
    tiny_minicpmv.py    MiniCPM-Llama3-V 2.5 in the released layout, adapters shaped like the authors'
    tiny_clip.py        a CLIP folder (released layout) + CLIP-AGIQA heads
    tokenizer.py        a byte-level BPE tokenizer trained locally (no downloads)
    vision_pretrain.py  a short pretraining of the tiny vision tower on procedural images
    clip_pretrain.py    the same for the whole tiny CLIP, on image-caption pairs
"""
