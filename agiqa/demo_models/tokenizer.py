"""A byte-level BPE tokenizer trained locally, carrying Qwen2-VL's special tokens and chat template.

Tiny test/demo models cannot download a tokenizer, so we train one in seconds on the very text
the pipeline speaks (prompt templates, rating words, image vocabulary). Byte-level BPE means any
input string (non-ASCII prompts included) still tokenizes.
"""

from __future__ import annotations

import random

QWEN2VL_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Qwen2-VL's chat template, reduced to what we use (string or list-of-parts content).
QWEN2VL_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_WORDS = (
    "image quality score rate picture sharp blurry blurred artifact artefact hand face text render good bad "
    "excellent poor fair color colour noise noisy detail details realistic real generated AI photo art the a "
    "of is this how what describe please user assistant system you are helpful red green blue yellow purple "
    "orange white black circle square triangle star shape shapes one two three four five many small large "
    "background scene compression jpeg downscaled low high resolution clean clear heavily slightly visible "
    "matches prompt alignment authenticity natural artificial edges smooth texture lighting composition wrong "
    "missing count object objects and with on in an it its no not very some strong mild"
).split()


def train_tokenizer(extra_texts: list[str], vocab_size: int = 1024, seed: int = 0,
                    special_tokens: list[str] | None = None, eos_token: str = "<|im_end|>",
                    pad_token: str = "<|endoftext|>", chat_template: str | None = QWEN2VL_CHAT_TEMPLATE):
    """Return a `PreTrainedTokenizerFast` trained on our vocabulary plus `extra_texts`.

    The special tokens, eos/pad and chat template default to Qwen2-VL's; other families pass theirs."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    rng = random.Random(seed)
    corpus = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 30))) for _ in range(3000)]
    corpus += list(extra_texts) * 20
    corpus += ["0 1 2 3 4 5 6 7 8 9 10 . , ! ? : ; ( ) [ ] ' \" \n"] * 50
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens or QWEN2VL_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tk.train_from_iterator(corpus, trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        eos_token=eos_token,
        pad_token=pad_token,
        chat_template=chat_template,
        model_max_length=32768,
    )
    tok.padding_side = "left"
    return tok
