"""Bad configuration is refused before any work starts, with a message that names the field."""

import pytest
from pydantic import ValidationError

from agiqa.config import JobConfig, load_config


def test_unknown_keys_are_refused(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("input: a\noutput: b\nmethod: {name: m3-agiqa, engine: {model: m, batchsize: 4}}\n")
    with pytest.raises(ValidationError, match="batchsize"):
        load_config(p)


def test_unknown_aspect_gets_a_hint():
    with pytest.raises(ValidationError, match="did you mean 'quality'"):
        JobConfig(input="a", output="b", aspects=["qualty"], method={"name": "m3-agiqa", "engine": {"model": "m"}})


def test_flags_override_yaml(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("input: a\noutput: b\nmethod: {name: m3-agiqa, engine: {model: m, batch_size: 4}}\n")
    cfg = load_config(p, {"method": {"engine": {"batch_size": 16, "model": None}}})
    assert cfg.method.engine.batch_size == 16 and cfg.method.engine.model == "m"


def test_old_spelling_is_translated_and_flags_in_the_new_one_win(tmp_path, caplog):
    p = tmp_path / "c.yaml"
    p.write_text("input: a\noutput: b\nengine: {model: m, batch_size: 4, heads: h, describe: false}\n"
                 "ray: {runner: local, num_gpus_per_actor: 0.5, max_shard_attempts: 5}\n")
    cfg = load_config(p, {"method": {"engine": {"batch_size": 16}}})
    assert cfg.method.name == "m3-agiqa" and cfg.method.heads == "h" and cfg.method.describe is False
    assert cfg.method.engine.batch_size == 16 and cfg.method.engine.model == "m"
    assert cfg.runner.kind == "local" and cfg.runner.max_shard_attempts == 5
    assert cfg.resources["score"].num_gpus == 0.5
    assert "is now `method:" in caplog.text and "is now `runner:" in caplog.text


def test_unknown_method_gets_a_hint_and_the_method_decides_its_fields():
    with pytest.raises(ValidationError, match="did you mean 'm3-agiqa'"):
        JobConfig(input="a", output="b", method={"name": "m3agiqa", "engine": {"model": "m"}})
    with pytest.raises(ValidationError, match="method.heads"):
        import agiqa.testing.fakes  # noqa: F401  (method "fake": no heads)

        JobConfig(input="a", output="b", method={"name": "fake", "heads": "h"})


def test_resources_name_a_stage_of_the_job():
    with pytest.raises(ValidationError, match="unknown stage"):
        JobConfig(input="a", output="b", method={"name": "m3-agiqa", "engine": {"model": "m"}},
                  resources={"scorer": {"num_gpus": 1}})


def test_m3_identity_ignores_paths_and_parallelism_but_not_weights_or_settings(tiny_model_dir, tmp_path):
    """Content, not paths: the same model copied elsewhere keeps its identity; a retrained head changes it."""
    import shutil

    from agiqa.model.head import M3Head

    def ident(model, **engine):
        cfg = JobConfig(input="a", output="b", method={"name": "m3-agiqa", "engine": {"model": str(model), **engine}})
        return cfg.method.build(tuple(cfg.aspects)).identity()

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    base = ident(tiny_model_dir)
    assert ident(copy, batch_size=32, device="cpu") == base
    assert ident(copy, max_length=256) != base
    head = M3Head.load(copy / "heads" / "quality")
    with __import__("torch").no_grad():
        head.fc[2].bias.add_(1.0)
    head.save(copy / "heads" / "quality")  # retrained in place
    changed = ident(copy)
    assert changed["heads"]["quality"] != base["heads"]["quality"]
    assert changed["heads"]["authenticity"] == base["heads"]["authenticity"] and changed["base_model"] == base["base_model"]


def test_cli_reports_config_errors_without_traceback(tmp_path):
    import subprocess
    import sys

    p = tmp_path / "c.yaml"
    p.write_text("input: a\noutput: b\nengine: {model: m, bogus: 1}\n")
    out = subprocess.run([sys.executable, "-m", "agiqa", "score", "--config", str(p)],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "engine.bogus" in out.stderr and "Traceback" not in out.stderr


def test_cli_refuses_missing_model_before_work(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "agiqa", "score", "--input", str(tmp_path), "--output",
                          str(tmp_path / "o"), "--model", str(tmp_path / "nope")], capture_output=True, text=True)
    assert out.returncode == 2
    assert "no Hugging Face model" in out.stderr and "Traceback" not in out.stderr


def test_a_retired_engine_setting_is_dropped_with_a_warning(caplog):
    """`generate_memory_fraction` split the two vLLM runners; one engine serves both rounds now, so an old
    config still loads (with a warning) instead of failing on an unknown key."""
    from agiqa.engines.config import EngineConfig

    cfg = EngineConfig(model="m", generate_memory_fraction=0.6)
    assert "generate_memory_fraction" not in cfg.model_dump()
    assert "generate_memory_fraction" in caplog.text


def test_old_spelling_through_the_cli_is_translated_once_with_flags_winning(tmp_path, caplog):
    from pathlib import Path

    from agiqa.cli import build_parser
    from agiqa.commands.score import load_job_config

    p = tmp_path / "old.yaml"
    p.write_text("input: a\noutput: b\nengine: {model: m, batch_size: 4, heads: h}\nray: {runner: ray, num_gpus_per_actor: 0.5}\n")
    argv = ["score", "--config", str(p), "--batch-size", "16", "--runner", "local", "--no-describe"]
    with caplog.at_level("WARNING", logger="agiqa.config.legacy"):
        cfg = load_job_config(build_parser(argv).parse_args(argv))
    assert (cfg.method.name, cfg.method.heads, cfg.method.engine.model) == ("m3-agiqa", "h", "m")
    assert cfg.method.engine.batch_size == 16 and cfg.method.describe is False and cfg.runner.kind == "local"
    assert cfg.resources["score"].num_gpus == 0.5
    assert caplog.text.count("is now `method:") == 1 and caplog.text.count("is now `runner:") == 1
    # the translation has one home: the score job config's validator, which every entry goes through
    root = Path(__file__).resolve().parents[2] / "agiqa"
    callers = sorted(str(f.relative_to(root)) for f in root.rglob("*.py")
                     if "upgrade_score_config(" in f.read_text() and f.name != "legacy.py")
    assert callers == ["config/score_job.py"]
    assert (root / "config" / "score_job.py").read_text().count("upgrade_score_config(") == 1


def test_resources_are_said_in_resources_and_an_old_method_field_moves_there(tmp_path, caplog):
    """CLIP's config no longer holds num_gpus/num_cpus: the method declares its default (one attribute), the job's
    `resources.<stage>` overrides it, and a YAML written for the old fields keeps working, with a warning."""
    from agiqa.methods.clip.config import ClipAgiqaConfig
    from agiqa.methods.clip.method import ClipAgiqaMethod

    assert "num_gpus" not in ClipAgiqaConfig.model_fields and "num_cpus" not in ClipAgiqaConfig.model_fields
    assert (ClipAgiqaMethod.resources.num_gpus, ClipAgiqaMethod.resources.num_cpus) == (0.25, 1.0)
    p = tmp_path / "old-clip.yaml"
    p.write_text("input: a\noutput: b\nmethod: {name: clip-agiqa, model: c, num_gpus: 0.5, num_cpus: 2}\n"
                 "prefilter: {method: {name: clip-agiqa, model: c, num_gpus: 0.1}, thresholds: {quality: 1}}\n"
                 "resources: {score: {num_cpus: 4}}\n")
    with caplog.at_level("WARNING", logger="agiqa.config.legacy"):
        cfg = load_config(p)
    assert cfg.resources["score"].num_gpus == 0.5 and cfg.resources["score"].num_cpus == 4  # the new spelling wins
    assert cfg.resources["prefilter"].num_gpus == 0.1
    assert "`method.num_gpus`, `method.num_cpus` is now `resources: {score:" in caplog.text
    assert "`prefilter.method.num_gpus` is now `resources: {prefilter:" in caplog.text


def test_the_method_sees_the_resources_its_actors_get(tmp_path):
    import agiqa.testing.fakes  # noqa: F401  (method "fake")
    from agiqa.workflows.score import build_score_job
    from tests.fixtures.shards import write_shard

    write_shard(tmp_path / "in" / "s.parquet", [1, 2])
    cfg = JobConfig(input=str(tmp_path / "in"), output=str(tmp_path / "out"), method={"name": "fake"},
                    runner={"kind": "local"}, resources={"score": {"num_cpus": 3, "num_gpus": 0}})
    stage = build_score_job(cfg).passes[0].stage
    assert stage.resources.num_cpus == 3 and stage.method.resources == stage.resources
