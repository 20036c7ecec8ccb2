"""Beam search over any engine that runs one-token requests: vLLM's algorithm, awaitable per request.

vLLM's own beam search is a client-side loop (`LLM.beam_search`, a blocking call over a list; the
server's version needs its renderer) that asks the engine, every step and for every live beam,
for one token with the top `2 * beams` log-probabilities; the engine's prefix cache makes each
step cost one token per beam. This is the same loop for one prompt, as a coroutine, so the beam
searches of many (row, aspect) requests run side by side in one engine with everything else.
As in vLLM (and transformers at `length_penalty` 1): a beam's score is its summed log-probability
over its whole length, prompt included, not counting a final eos; a beam that emits `eos` is done.
No repetition penalty is applied (vLLM's beam search has none).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class _Beam:
    tokens: list[int] = field(default_factory=list)  # generated so far
    logprob: float = 0.0


def _score(beam: _Beam, prompt_len: int, eos: int) -> float:
    n = prompt_len + len(beam.tokens) - (1 if beam.tokens and beam.tokens[-1] == eos else 0)
    return beam.logprob / max(n, 1)


async def beam_search(run: Callable[[dict, object], Awaitable], prompt: dict, width: int, max_tokens: int,
                      eos: int) -> list[int]:
    """The best beam's generated tokens (a final eos included, as generation returns it).

    `run(prompt, params)` awaits one request's `RequestOutput`; `prompt` has `prompt_token_ids`."""
    from vllm import SamplingParams

    params = SamplingParams(logprobs=2 * width, max_tokens=1, temperature=0.0, detokenize=False)
    ids = list(prompt["prompt_token_ids"])
    live, done, prompt_len = [_Beam()], [], len(ids)
    for step in range(max_tokens):
        outs = await asyncio.gather(*(run({**prompt, "prompt_token_ids": ids + b.tokens}, params) for b in live))
        if step == 0:  # the prompt as the model sees it (an image placeholder expanded), as vLLM and hf count it
            prompt_len = len(outs[0].prompt_token_ids)
        grown = []
        for beam, out in zip(live, outs, strict=True):
            for token, lp in out.outputs[0].logprobs[0].items():
                child = _Beam(beam.tokens + [token], beam.logprob + lp.logprob)
                (done if token == eos else grown).append(child)
        live = sorted(grown, key=lambda b: _score(b, prompt_len, eos), reverse=True)[:width]
        if not live:
            break
    best = max(done + live, key=lambda b: _score(b, prompt_len, eos))
    return best.tokens
