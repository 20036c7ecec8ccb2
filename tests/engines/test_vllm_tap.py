"""The tap's assembly of a request's states from the chunks the engine computed (chunked prefill,
recomputation after preemption), and its refusal of anything that does not start at 0 without a gap."""

import torch

from agiqa.engines.vllm_tap import _KEY, HiddenStateTap, score_request_id


def _tap(chunks):
    t = HiddenStateTap()
    t._agiqa_tap = {"proj": {}, "chunks": chunks, "schedule": None}
    return t


def test_chunks_assemble_in_position_order_and_leave_the_buffer():
    key = score_request_id("quality", "ab" * 16)
    a, b = torch.arange(10.0).reshape(5, 2), torch.arange(10.0, 16.0).reshape(3, 2)
    t = _tap({key: {5: b, 0: a}})  # stored as computed; a recomputed chunk overwrote its own start
    shape, data = t.agiqa_tap_take([key])[key]
    got = torch.frombuffer(bytearray(data), dtype=torch.float32).reshape(shape)
    assert torch.equal(got, torch.cat([a, b]))
    assert t._agiqa_tap["chunks"] == {}


def test_a_gap_or_a_late_start_is_refused_not_padded():
    k1, k2, k3 = (score_request_id("quality", c * 32) for c in "abc")
    t = _tap({k1: {3: torch.zeros(2, 2)}, k2: {0: torch.zeros(2, 2), 4: torch.zeros(1, 2)}})
    out = t.agiqa_tap_take([k1, k2, k3])
    assert "do not run from 0" in out[k1] and "do not run from 0" in out[k2]
    assert out[k3] == "no hidden states were captured"


def test_the_engine_suffix_is_stripped_from_the_key():
    key = score_request_id("correspondence", "0f" * 16)
    assert _KEY.match(key + "-1a2b3c4d").group(1) == key
    assert _KEY.match("agiqa-gen:" + "0f" * 16) is None
