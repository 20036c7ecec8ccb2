"""The two-round protocol as a plain function, with a fake engine that records its calls."""

from agiqa.methods.m3.two_round import Conversation, two_round


class RecordingEngine:
    def __init__(self):
        self.describe_calls, self.hidden_calls = [], []

    def describe(self, reqs):
        self.describe_calls.append(reqs)
        return [f"{r.aspect} of {r.image}: looks fine" for r in reqs]

    def hidden_states(self, reqs):
        self.hidden_calls.append(reqs)
        return [len(r.first_turn) + len(r.description) for r in reqs]


def conversations():
    return [Conversation(a, img, f"Q1 {a} {img}", f"Q2 {a}") for img in ("img0", "img1") for a in ("quality", "authenticity")]


def test_round_one_feeds_the_scoring_pass_and_each_round_is_one_batched_call():
    eng = RecordingEngine()
    convs = conversations()
    descriptions, hidden = two_round(convs, eng.describe, eng.hidden_states)
    assert len(eng.describe_calls) == 1 and len(eng.hidden_calls) == 1  # all rows, all aspects at once
    assert descriptions == [f"{c.aspect} of {c.image}: looks fine" for c in convs]
    passes = eng.hidden_calls[0]
    assert [(p.aspect, p.image, p.first_turn, p.description, p.second_turn) for p in passes] == [
        (c.aspect, c.image, c.first_turn, d, c.second_turn) for c, d in zip(convs, descriptions, strict=True)]
    assert hidden == [len(c.first_turn) + len(d) for c, d in zip(convs, descriptions, strict=True)]


def test_without_round_one_the_assistant_turn_is_empty_and_describe_is_never_called():
    eng = RecordingEngine()
    descriptions, _ = two_round(conversations(), eng.describe, eng.hidden_states, with_description=False)
    assert eng.describe_calls == [] and descriptions == [""] * 4
    assert all(p.description == "" for p in eng.hidden_calls[0])


def test_an_engine_returning_the_wrong_count_is_an_error_not_a_misalignment():
    eng = RecordingEngine()
    import pytest

    with pytest.raises(RuntimeError, match="3 texts for 4"):
        two_round(conversations(), lambda reqs: eng.describe(reqs)[:3], eng.hidden_states)
    assert two_round([], eng.describe, eng.hidden_states) == ([], [])
