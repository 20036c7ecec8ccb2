"""M3-AGIQA as a scoring method: the LoRA MLLM describes (round 1), a teacher-forced pass over the
two-round conversation gives per-token states, an xLSTM head per aspect gives the score.

    config.py      M3Config (`method: {name: m3-agiqa, ...}`) and its checks before any model loads
    two_round.py   the two-round protocol as a plain function over the engine's two calls
    method.py      M3Method: engine + heads, setup / score / teardown, identity from the weights
The model maths (prompts, head, fold, reference import) live in `agiqa.model`, shared with training.
"""
