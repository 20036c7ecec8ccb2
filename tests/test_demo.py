"""`make demo`'s orchestration: per-aspect finetune epochs, reruns that finish what is missing, the summary.

The steps themselves are the real `agiqa` commands, run end to end by the demo and by
bench_learnability; here they are recorded instead, to check which ones a (re)run starts.
"""

import json

import pytest

from agiqa import demo


def test_epoch_groups():
    assert demo.epoch_groups("4", "--ft-epochs") == [("4", ["quality", "correspondence", "authenticity"])]
    assert demo.epoch_groups("quality=3,correspondence=12,authenticity=3", "--ft-epochs") == [
        ("3", ["quality", "authenticity"]), ("12", ["correspondence"])]
    assert demo.epoch_groups("correspondence=12,quality=2", "--ft-epochs", ["quality", "correspondence"]) == [
        ("2", ["quality"]), ("12", ["correspondence"])]
    with pytest.raises(SystemExit, match="every aspect"):
        demo.epoch_groups("quality=3,correspondence=12", "--ft-epochs")


def run_recorded(tmp_path, monkeypatch, capsys) -> list[list[str]]:
    calls: list[list[str]] = []

    def fake_step(title: str, args: list[str]) -> None:
        calls.append(args)
        if args[0] == "eval":
            out = args[args.index("--json") + 1]
            with open(out, "w") as f:
                json.dump({a: {"n": 48, "srcc": 0.5} for a in demo.ASPECTS}, f)
        demo.TIMES.append((args[0], 1.0))

    monkeypatch.setattr(demo, "step", fake_step)
    monkeypatch.setattr(demo, "TIMES", [])
    assert demo.main(["--workdir", str(tmp_path)]) == 0
    return calls


def test_a_fresh_run_finetunes_each_epoch_group_once(tmp_path, monkeypatch, capsys):
    calls = run_recorded(tmp_path, monkeypatch, capsys)
    finetunes = [c for c in calls if c[0] == "finetune"]
    groups = {c[c.index("--aspects") + 1]: c[c.index("--epochs") + 1] for c in finetunes}
    assert groups == {"quality,authenticity": "2", "correspondence": "12"}
    out = capsys.readouterr().out
    assert "== summary" in out and "correspondence 0.50" in out


def test_a_rerun_trains_only_the_missing_adapters(tmp_path, monkeypatch, capsys):
    # an earlier run stopped after the first finetune: quality and authenticity adapters exist
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "agiqa_model.json").write_text("{}")
    for d in ("data", "train"):
        (tmp_path / d).mkdir()
    for a in ("quality", "authenticity"):
        (tmp_path / "adapters" / a).mkdir(parents=True)
        (tmp_path / "adapters" / a / "adapter_config.json").write_text("{}")
    calls = run_recorded(tmp_path, monkeypatch, capsys)
    assert [c[0] for c in calls] == ["finetune", "train-head", "score", "eval"]
    assert calls[0][calls[0].index("--aspects") + 1] == "correspondence"
