"""The score job: `ScoreStage(method)` from the input root to the output root, in one pass, or as a
cascade behind a cheap prefilter:

    pass 1   ScoreStage(prefilter method)    input -> OUTPUT.agiqa/prefilter   (every row, cheap)
    reduce   global top-fraction cutoffs     over pass 1's committed scores     (only with top_fraction)
    pass 2   CascadeStage(ScoreStage(method)) input (+ pass 1 as side input) -> OUTPUT
Each pass has its own actor pool (the cheap one never stalls the MLLM's), commits shards exactly
once, and is skipped shard by shard on a rerun; the cutoff is recomputed and, when unchanged,
leaves pass 2's committed shards valid.
"""

from __future__ import annotations

from agiqa.config.score_job import ScoreJobConfig
from agiqa.runner.job import Pass, Reduce, ShardJob

#: Where a cascade's first pass writes: in the output's state root, where no dataset reader looks.
PREFILTER_DIR = "prefilter"


def build_score_job(cfg: ScoreJobConfig, **job_options) -> ShardJob:
    """The runner's job for `cfg` (methods are built, not set up: nothing heavy loads here)."""
    import os

    from agiqa.data.sources import ImageSource
    from agiqa.extras import require
    from agiqa.stages.score import ScoreStage
    from agiqa.workflows.ids import duplicate_ids_step
    from agiqa.workflows.inputs import check_input, refuse_url_images

    aspects = tuple(cfg.aspects)
    on_ray = cfg.runner.kind != "local"
    require("score", (*cfg.method.requires_modules, *(("ray",) if on_ray else ())),
            f"scoring with {cfg.method.name!r}" + (" on Ray" if on_ray else ""))
    check_input(cfg.input, cfg.columns, cfg.storage)
    refuse_url_images(cfg.input, cfg.columns.image, cfg.storage)
    here = cfg.runner.kind == "local" or not (cfg.runner.address or os.environ.get("RAY_ADDRESS"))
    cfg.method.check(aspects, on_this_machine=here)
    method = cfg.method.build(aspects)
    method.resources = method.resources.override(**cfg.stage_resources("score"))  # the method's default, overridden
    stage = ScoreStage(method, cfg.columns, cfg.images, method.resources, source=ImageSource(cfg.storage))
    steps = [Pass(stage, cfg.input, cfg.output)] if cfg.prefilter is None else _cascade(cfg, stage, here)
    steps.append(duplicate_ids_step(cfg.output, cfg.columns.id))  # ids synthesised where missing: always there
    return ShardJob(passes=steps, storage=cfg.storage, runner=cfg.runner.settings(),
                    read_batch_rows=cfg.read_batch_rows, overwrite=cfg.overwrite, progress=cfg.progress, **job_options)


def _cascade(cfg: ScoreJobConfig, main_stage, here: bool) -> list:
    from agiqa.data.sources import ImageSource
    from agiqa.extras import require
    from agiqa.runner.manifest import identity_hash
    from agiqa.stages.cascade import CascadeStage
    from agiqa.stages.score import ScoreStage
    from agiqa.storage.layout import state_uri

    p = cfg.prefilter
    cheap_aspects = p.scored_aspects
    require("score", p.method.requires_modules, f"prefiltering with {p.method.name!r}")
    p.method.check(cheap_aspects, on_this_machine=here)
    cheap = p.method.build(cheap_aspects)
    cheap.resources = cheap.resources.override(**cfg.stage_resources("prefilter"))
    cheap_stage = ScoreStage(cheap, cfg.columns, cfg.images, cheap.resources, source=ImageSource(cfg.storage),
                             name="prefilter")
    cheap_out = state_uri(cfg.output, PREFILTER_DIR)
    cheap_hash = identity_hash(cheap_stage.identity())
    id_column = cfg.columns.id

    def cascade_stage(results: dict) -> CascadeStage:
        return CascadeStage(main_stage, cheap_aspects, p.thresholds, results.get("prefilter_cutoffs", {}),
                            cheap_hash, id_column, cheap.name, cheap.spec)

    steps: list = [Pass(cheap_stage, cfg.input, cheap_out)]
    if p.top_fraction:
        steps += _cutoffs_over(cheap_out, cfg.output, p.top_fraction, id_column, cheap.spec.higher_is_better)
    steps.append(Pass(cascade_stage, cfg.input, cfg.output, side_input=cheap_out))
    return steps


def _cutoffs_over(root: str, output: str, fractions: dict[str, float], id_column: str,
                  higher_is_better: bool = True) -> list:
    """Per aspect, the exact global top-fraction cutoff of the cheap scores under `root`, as partial
    passes (`workflows.cutoff_steps`), then one reduce gathering them as `prefilter_cutoffs`."""
    from agiqa.selection import CutoffSearch
    from agiqa.workflows.cutoff_steps import cutoff_steps

    names = {aspect: f"prefilter_cutoff-{aspect}" for aspect in sorted(fractions)}
    steps: list = []
    for aspect, name in names.items():
        steps += cutoff_steps(name, root, output, CutoffSearch(f"{aspect}_score", id_column, fractions[aspect],
                                                                  higher_is_better))

    def gather(ctx) -> dict:
        return {aspect: ctx.results[name] for aspect, name in names.items()}

    return steps + [Reduce("prefilter_cutoffs", gather)]
