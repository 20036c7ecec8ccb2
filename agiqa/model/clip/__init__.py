"""CLIP-AGIQA (Tang et al., ICPR 2024; METHODS.md §3): a frozen CLIP, learnable multi-category prompts
and a small regressor.

    backbone.py        the frozen CLIP from a local folder: image preprocessing, image/prompt features
    prompt_learner.py  16 shared learnable context vectors before each quality category's name
    head.py            one head per aspect (prompt learner + regressor), saved as safetensors + JSON
"""
