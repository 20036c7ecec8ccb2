"""What a scoring method is: model maths and heavy state, no I/O, no row bookkeeping.

A method turns decoded images and cleaned prompts into one score per aspect (plus any extra
fields it documents, e.g. M3-AGIQA's descriptions). Everything around it (decoding, prompt
cleaning, isolating rows the method cannot take, `status`/`error`, rating words, shards, retries)
belongs to the stage and the runner, written once for every method.

A method is built from its config on the driver (cheap: no weights loaded, so `identity()` can
be computed for resume before any work), shipped to the actors, and `setup()` there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from agiqa.aspects import ASPECTS
from agiqa.resources import Resources
from agiqa.schema import StrictModel

if TYPE_CHECKING:
    import pyarrow as pa

    from agiqa.aspects import ScoreSpec


@dataclass
class MethodOutput:
    """One value per input row, in order, for each aspect and each extra field."""

    scores: dict[str, list[float]]
    extras: dict[str, list[Any]] = field(default_factory=dict)


@runtime_checkable
class ScoringMethod(Protocol):
    name: str
    aspects: tuple[str, ...]
    spec: ScoreSpec
    #: The method's declared default per actor; the job's `resources.<stage>` overrides it.
    resources: Resources
    #: Aspects that judge the generation prompt: a row without a prompt gets them null, the rest scored.
    prompt_aspects: tuple[str, ...]
    #: Input columns the method reads per row besides image and prompt; the stage requires them and passes
    #: their raw values to `score` as `columns={name: values}` (empty for most methods).
    input_columns: tuple[str, ...]
    #: Per-image CPU work (resize, normalise) run on the stage's prepare pool after decoding, or None;
    #: `score` then gets what it returned instead of the PIL images.
    preprocess: Callable[[Any], Any] | None
    #: Seconds spent so far per part of the method (for job figures and benchmarks).
    times: dict[str, float]

    def identity(self) -> dict:
        """Everything that changes the scores: digests of the weights and the settings. Cheap; no model load."""
        ...

    def extra_fields(self) -> list[pa.Field]:
        """Output columns the method adds beside `<aspect>_score` and `<aspect>_rating`."""
        ...

    def setup(self) -> None:
        """Load the weights (once per actor), on the thread that will run `score`."""
        ...

    def score(self, images: list, prompts: list[str],
              columns: dict[str, list]) -> MethodOutput | Awaitable[MethodOutput]:
        """Score rows (RGB PIL images, or what `preprocess` made of them; cleaned prompts; the raw values of
        `input_columns`). A plain function or a coroutine: a coroutine lets the runner keep several batches
        in flight on one engine (they may finish in any order). Raising fails every row given; the stage then
        retries row by row to find the one the method cannot take."""
        ...

    def teardown(self) -> None:
        """Free what setup took (engines, GPU memory)."""
        ...


class MethodBase:
    """The optional members of `ScoringMethod`, declared once with their defaults (subclass and override)."""

    #: What one actor needs, declared by the method (a class attribute); a job's `resources.<stage>` overrides
    #: it (`agiqa.workflows.score` sets the result here, so the method sees what its actors get).
    resources: Resources = Resources(num_gpus=0.0, num_cpus=1.0)
    input_columns: tuple[str, ...] = ()
    preprocess: Callable[[Any], Any] | None = None

    @property
    def prompt_aspects(self) -> tuple[str, ...]:
        # every aspect needs the prompt unless the method says otherwise (a class attribute or an assignment)
        return self.__dict__.get("_prompt_aspects", tuple(self.aspects))

    @prompt_aspects.setter
    def prompt_aspects(self, value) -> None:
        self.__dict__["_prompt_aspects"] = tuple(value)

    @property
    def times(self) -> dict[str, float]:
        return self.__dict__.setdefault("_times", {})

    @times.setter
    def times(self, value: dict[str, float]) -> None:
        self.__dict__["_times"] = value

    def extra_fields(self) -> list:
        return []

    def teardown(self) -> None:
        pass


class MethodConfig(StrictModel):
    """Base of every method's config; `name` picks the method through the registry."""

    #: Aspects this method can score.
    supported_aspects: ClassVar[tuple[str, ...]] = ASPECTS
    #: `agiqa score` flags this method takes: flag name (its argparse dest) -> dotted field path in this
    #: config. The flag's type, choices and help come from that field (`agiqa.commands.method_flags`); a bool
    #: field that defaults to True becomes `--no-<flag>`. A flag given for a method that does not list it is
    #: refused, never silently ignored.
    cli_flags: ClassVar[dict[str, str]] = {}
    #: Top-level modules the method needs at run time (checked before any work; see `agiqa.extras`).
    requires_modules: ClassVar[tuple[str, ...]] = ()
    #: `agiqa train-head --method NAME` runs this "module:function" with the parsed arguments (returns the exit
    #: code); None: the method has no heads to train there.
    train_entry: ClassVar[str | None] = None
    #: `agiqa make-tiny-model --method NAME` runs this "module:function" with the parsed arguments (returns the
    #: line to print); None: no tiny model for it.
    tiny_model_entry: ClassVar[str | None] = None

    name: str

    def check(self, aspects: tuple[str, ...], on_this_machine: bool = True) -> None:
        """Refuse, with a `ConfigError` naming the field or file, what cannot work (no model loaded).

        `on_this_machine`: the method will run here (local runner or a local Ray), so this machine's
        devices can be checked too."""

    def build(self, aspects: tuple[str, ...]) -> ScoringMethod:
        """The method for these aspects, not yet set up."""
        raise NotImplementedError
