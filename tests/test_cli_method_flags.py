"""A method owns its CLI: a method registered by a user's module (`--import`) gets its `agiqa score` flags
(typed and documented from its fields), its name in `--help`, `train-head` and `make-tiny-model` runs,
and `Scorer`'s `model=` placement, all through the registry, with no agiqa file edited."""

import subprocess
import sys
import textwrap

import pytest

TOY = '''
from typing import ClassVar, Literal
from pydantic import Field
from agiqa.methods.base import MethodConfig
from agiqa.methods.registry import register_method
from agiqa.schema import StrictModel


class Backend(StrictModel):
    model: str = Field("none", description="The toy judge's weights folder.")


@register_method
class ToyConfig(MethodConfig):
    name: Literal["toy-judge"] = "toy-judge"
    cli_flags: ClassVar[dict] = {"model": "backend.model", "temperature": "temperature", "mode": "mode",
                                 "calibrate": "calibrate"}
    train_entry: ClassVar[str] = "toy_methods:train"
    tiny_model_entry: ClassVar[str] = "toy_methods:tiny"
    backend: Backend = Field(default_factory=Backend, description="Where the judge runs.")
    temperature: float = Field(0.0, description="Sampling temperature of the toy judge.")
    mode: Literal["fast", "exact"] = Field("fast", description="How the toy judge reads images.")
    calibrate: bool = Field(True, description="Calibrate the toy judge's scores.")

    def build(self, aspects):
        from agiqa.testing.fakes import FakeConfig, FakeMethod

        return FakeMethod(FakeConfig(), aspects)


def train(args):
    open(args.output, "w").write("trained " + args.method)
    return 0


def tiny(args):
    open(args.dir, "w").write("tiny " + args.method)
    return "wrote the toy judge"
'''

@pytest.fixture
def toy_module(tmp_path, monkeypatch):
    """A user's module registering method `toy-judge`, importable here and in subprocesses."""
    (tmp_path / "toy_methods.py").write_text(textwrap.dedent(TOY))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{sys.path[0] if sys.path[0] else '.'}")
    yield tmp_path
    from agiqa.methods import registry

    registry._registered.pop("toy-judge", None)
    sys.modules.pop("toy_methods", None)


def agiqa(*args):
    return subprocess.run([sys.executable, "-m", "agiqa", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_an_imported_method_brings_its_flags_and_its_name_into_score_help(toy_module):
    out = agiqa("score", "--import", "toy_methods", "--help")
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "one of m3-agiqa (default), clip-agiqa, toy-judge" in text
    assert "--temperature TEMPERATURE Sampling temperature of the toy judge (default 0.0) [toy-judge]" in text
    assert "--mode {fast,exact}" in text and "--no-calibrate" in text
    # a flag several methods take gets each method's meaning
    assert "toy-judge: The toy judge's weights folder" in text and "clip-agiqa: CLIP folder" in text
    assert "--temperature" not in agiqa("score", "--help").stdout  # without the import: built-ins only


def test_the_flags_of_an_imported_method_reach_its_config_typed_and_nested(toy_module, tmp_path):
    from agiqa.cli import build_parser
    from agiqa.commands.score import load_job_config

    argv = ["score", "--import", "toy_methods", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
            "--method", "toy-judge", "--model", "/w", "--temperature", "0.5", "--mode", "exact", "--no-calibrate",
            "--runner", "local"]
    cfg = load_job_config(build_parser(argv).parse_args(argv))
    assert (cfg.method.backend.model, cfg.method.temperature, cfg.method.mode, cfg.method.calibrate) == (
        "/w", 0.5, "exact", False)
    assert cfg.imports == ["toy_methods"]  # recorded, so whoever validates the config again imports it first


def test_a_flag_the_chosen_method_does_not_take_is_refused_in_one_line(toy_module, tmp_path):
    out = agiqa("score", "--import", "toy_methods", "--input", tmp_path, "--output", tmp_path / "o",
                "--model", tmp_path, "--temperature", "0.5")
    assert out.returncode == 2
    assert "--temperature does not apply to method 'm3-agiqa'" in out.stderr.strip().splitlines()[-1]


def test_train_head_and_make_tiny_model_run_the_methods_own_entries(toy_module, tmp_path):
    out = agiqa("train-head", "--import", "toy_methods", "--method", "toy-judge", "--data", tmp_path,
                "--model", tmp_path, "--output", tmp_path / "trained.txt")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "trained.txt").read_text() == "trained toy-judge"
    out = agiqa("make-tiny-model", "--import", "toy_methods", "--method", "toy-judge", tmp_path / "tiny.txt")
    assert out.returncode == 0, out.stderr
    assert "wrote the toy judge" in out.stdout and (tmp_path / "tiny.txt").read_text() == "tiny toy-judge"


def test_a_method_without_a_training_entry_is_refused_naming_those_with_one(tmp_path):
    # method "fake" (registered by agiqa.testing.fakes) has no train_entry
    out = agiqa("train-head", "--import", "agiqa.testing.fakes", "--method", "fake", "--data", tmp_path,
                "--model", tmp_path, "--output", tmp_path / "o")
    assert out.returncode == 2
    assert "train-head does not know method 'fake'; it takes: m3-agiqa, clip-agiqa" in out.stderr


def test_an_import_that_fails_is_one_line_exit_2():
    out = agiqa("score", "--import", "no_such_module_xyz", "--help")
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0
    assert "cannot import 'no_such_module_xyz'" in out.stderr


def test_scorer_puts_model_where_the_methods_model_flag_does(toy_module):
    import toy_methods  # noqa: F401

    from agiqa.scorer import Scorer

    scorer = Scorer("toy-judge", model="/weights", setup=False)
    assert scorer.config.backend.model == "/weights"


def test_parsers_that_read_the_registry_stay_light():
    """Generating flags imports every method's config class, never its model code."""
    code = ("import sys; from agiqa.cli import build_parser\n"
            "for c in ('score', 'train-head', 'make-tiny-model'): build_parser([c]).format_help()\n"
            "print([m for m in ('torch', 'transformers', 'vllm', 'ray', 'peft') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout
