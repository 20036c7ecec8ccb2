"""The three aspects people rate, and the rating words the method speaks in.

M3-AGIQA maps a 0-5 MOS to one of five words with the thresholds of the reference's
`mos2ans` / `score_to_rating` (strawhatboy/M3-AGIQA): <1 bad, <2 poor, <3 fair, <4 good, else
excellent. Keeping the mapping here means heads, prompts and training all agree on it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

ASPECTS: tuple[str, ...] = ("quality", "correspondence", "authenticity")
RATING_WORDS: tuple[str, ...] = ("bad", "poor", "fair", "good", "excellent")
MOS_MIN, MOS_MAX = 0.0, 5.0


def rating_for_score(score: float) -> str:
    """Rating word for a MOS on the 0-5 scale (reference thresholds)."""
    for i, word in enumerate(RATING_WORDS[:-1]):
        if score < i + 1:
            return word
    return RATING_WORDS[-1]


@dataclass(frozen=True)
class ScoreSpec:
    """What a method's scores mean: their scale and direction, so ratings, filters and audits can treat
    every method alike (a rating word is the score's fifth of the scale).

    `bounded`: the method promises every score lies in [low, high] (the stage refuses a batch that
    breaks the promise: a method bug, never a silently wrong column). Unbounded: [low, high] is only the
    nominal scale the rating words are cut from; raw regressor outputs may fall outside it (e.g.
    `clamp: false`, the paper's tables), so readers must take ranges from the data, not from the spec.
    """

    low: float = MOS_MIN
    high: float = MOS_MAX
    higher_is_better: bool = True
    bounded: bool = True

    def rating(self, score: float) -> str:
        """Rating word for `score`: the range cut in five equal parts (the MOS thresholds on 0-5)."""
        x = (score - self.low) / (self.high - self.low) * len(RATING_WORDS)
        if not self.higher_is_better:
            x = len(RATING_WORDS) - x
        return rating_for_score(x)

    def unbounded(self) -> ScoreSpec:
        """The same nominal scale, without the promise that scores stay inside it."""
        return replace(self, bounded=False)

    def describe(self) -> str:
        """The range in words, for messages and reports: '0-5' or 'unbounded (nominal 0-5)'."""
        scale = f"{self.low:g}-{self.high:g}"
        return scale if self.bounded else f"unbounded (nominal {scale})"

    def outside(self, scores: list) -> list[int]:
        """Indices of scores a bounded spec does not allow (below `low`, above `high`, NaN); [] if unbounded."""
        if not self.bounded:
            return []
        return [i for i, s in enumerate(scores) if s is not None and not (self.low <= s <= self.high)]


#: The scale people's mean opinion scores are given on: 0-5, higher is better.
MOS_SPEC = ScoreSpec()

#: The Arrow field metadata key a score column carries its `ScoreSpec` under (JSON), so a reader of
#: the scored shards (filter, audit) knows the scale and direction without knowing the method.
SPEC_KEY = b"agiqa.score_spec"


def spec_metadata(spec: ScoreSpec) -> dict[bytes, bytes]:
    import json
    from dataclasses import asdict

    return {SPEC_KEY: json.dumps(asdict(spec), sort_keys=True).encode()}


def spec_of_field(field) -> ScoreSpec | None:
    """The `ScoreSpec` a score column was written with (None: a column agiqa did not write, or older)."""
    import json

    raw = (field.metadata or {}).get(SPEC_KEY)
    if raw is None:
        return None
    try:
        return ScoreSpec(**json.loads(raw))
    except (ValueError, TypeError):
        return None


def check_aspects(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validate aspect names, with a did-you-mean hint; returns them in canonical order."""
    bad = [n for n in names if n not in ASPECTS]
    if bad:
        import difflib

        hints = {b: difflib.get_close_matches(b, ASPECTS, n=1) for b in bad}
        msg = ", ".join(f"{b!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for b, h in hints.items())
        raise ValueError(f"unknown aspect {msg}; choose from {', '.join(ASPECTS)}")
    if not names:
        raise ValueError(f"no aspects given; choose from {', '.join(ASPECTS)}")
    return tuple(a for a in ASPECTS if a in names)
