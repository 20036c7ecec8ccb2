"""Test and demo material, never imported by production code (a test checks the import direction).

    tiny_model.py       random-weight Qwen2-VL + adapters + heads in the real release formats
    tokenizer.py        a byte-level BPE tokenizer trained locally (no downloads)
    vision_pretrain.py  a short pretraining of the tiny vision tower on procedural images
    fakes.py            FakeMethod: a cheap, deterministic scoring method for runner tests and benchmarks
    faults.py           stores that fail on purpose (a process that dies right after a commit)
"""
