"""`prefilter:` in a score job: a cheap method's scores decide which rows the main method sees (a cascade)."""

from __future__ import annotations

from pydantic import Field, SerializeAsAny, field_validator, model_validator

from agiqa.aspects import check_aspects
from agiqa.methods.base import MethodConfig
from agiqa.methods.registry import method_config
from agiqa.schema import StrictModel


class PrefilterConfig(StrictModel):
    method: SerializeAsAny[MethodConfig] = Field(
        ..., description="The cheap method, by name with its settings: {name: clip-agiqa, model: CLIP_DIR}.")
    aspects: list[str] | None = Field(
        None, description="Aspects the cheap method scores (default: those with a rule).")
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="Per aspect: rows whose cheap score is below this go no further.")
    top_fraction: dict[str, float] = Field(
        default_factory=dict, description="Per aspect: only the best fraction of the WHOLE input (a global "
                                          "cutoff over every shard, ties by ascending id) goes on.")

    @field_validator("method", mode="before")
    @classmethod
    def _method_by_name(cls, v):
        return method_config(v)

    @field_validator("thresholds", "top_fraction")
    @classmethod
    def _rule_aspects(cls, v: dict) -> dict:
        if v:  # an empty rule set is fine here (a dumped config holds it); `_has_rules` wants one rule overall
            check_aspects(list(v))
        return v

    @field_validator("top_fraction")
    @classmethod
    def _fractions(cls, v: dict) -> dict:
        bad = {a: f for a, f in v.items() if not 0.0 <= f <= 1.0}
        if bad:
            raise ValueError(f"fractions must lie in [0, 1]: {bad}")
        return v

    @model_validator(mode="after")
    def _has_rules(self) -> PrefilterConfig:
        if not self.thresholds and not self.top_fraction:
            raise ValueError("a prefilter needs at least one rule (thresholds or top_fraction)")
        missing = sorted(set(self.rule_aspects) - set(self.scored_aspects))
        if missing:
            raise ValueError(f"rules on {missing}, which prefilter.aspects {self.aspects} leaves out")
        return self

    @property
    def rule_aspects(self) -> list[str]:
        return sorted({*self.thresholds, *self.top_fraction})

    @property
    def scored_aspects(self) -> tuple[str, ...]:
        return tuple(check_aspects(self.aspects)) if self.aspects else tuple(self.rule_aspects)
