"""Wrong invocations are refused before any model loads: one line naming the field or file, exit 2, in seconds."""

import json
import subprocess
import sys
import time

import pytest


def agiqa(*args, cwd=None):
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "agiqa", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                         timeout=120)
    return out, time.perf_counter() - t


@pytest.fixture(scope="module")
def bad_setups(tmp_path_factory, tiny_model_dir):
    """(name, argv, what the one line must say) for each wrong invocation."""
    d = tmp_path_factory.mktemp("wrong")
    from tests.fixtures.shards import write_shard

    write_shard(d / "in" / "s.parquet", [1, 2])
    (d / "pngs").mkdir()
    (d / "pngs" / "a.png").write_bytes(b"x")
    (d / "bad.yaml").write_text("input: [unclosed\n")
    (d / "file-out").write_text("x")
    other = d / "other-heads"
    import shutil

    shutil.copytree(tiny_model_dir / "heads", other)
    cfg = json.loads((other / "quality" / "head_config.json").read_text())
    cfg["hidden_size"] = cfg["hidden_size"] * 2
    (other / "quality" / "head_config.json").write_text(json.dumps(cfg))
    pickled_model, pickled_adapters = _pickled_copies(d, tiny_model_dir)
    m, i = str(tiny_model_dir), str(d / "in")
    base = ["score", "--input", i, "--model", m]
    return [
        ("same input and output", ["score", "--input", i, "--output", i, "--model", m], "overlaps the input"),
        ("output inside input", [*base, "--output", d / "in" / "out"], "overlaps the input"),
        ("output is a file", [*base, "--output", d / "file-out"], "is a file"),
        ("head for another model", [*base, "--output", d / "o1", "--heads", other], "hidden size"),
        ("unknown prompt set", [*base, "--output", d / "o2", "--prompt-set", "m3agiq"], "did you mean"),
        ("--device gpu", [*base, "--output", d / "o3", "--device", "gpu"], "device"),
        ("--device cuda without a GPU", [*base, "--output", d / "o4", "--device", "cuda", "--runner", "local"],
         "no CUDA GPU"),
        ("YAML syntax error", ["score", "--config", d / "bad.yaml"], "not valid YAML"),
        ("s3:// without a bucket", [*base, "--output", "s3://"], "without a bucket"),
        ("unknown method", [*base, "--output", d / "o5", "--method", "m3-agica"], "did you mean 'm3-agiqa'"),
        ("no shards (folder of PNGs)", ["score", "--input", d / "pngs", "--output", d / "o6", "--model", m],
         "no *.parquet shards"),
        ("--num-actors with --runner local", [*base, "--output", d / "o7", "--runner", "local", "--num-actors", "2"],
         "num_actors"),
        ("wrong --address", [*base, "--output", d / "o8", "--address", "127.0.0.1:9"], "no Ray cluster answers"),
        ("missing input folder", ["score", "--input", d / "nope", "--output", d / "o9", "--model", m], "does not exist"),
        ("M3 folder given to clip-agiqa", [*base, "--output", d / "o12", "--method", "clip-agiqa"], "not CLIP"),
        ("an M3 flag with clip-agiqa", [*base, "--output", d / "o13", "--method", "clip-agiqa", "--adapters", m],
         "--adapters does not apply"),
        ("prefilter rule without a prefilter", [*base, "--output", d / "o14", "--prefilter-threshold", "quality=2"],
         "need --prefilter"),
        ("prefilter fraction above 1", [*base, "--output", d / "o15", "--prefilter", "clip-agiqa", "--prefilter-model",
                                        m, "--prefilter-top-fraction", "quality=1.5"], "[0, 1]"),
        ("pickled model weights", [*base[:-1], pickled_model, "--output", d / "o16"], "pytorch_model.bin"),
        ("a pickled adapter", [*base, "--output", d / "o17", "--adapters", pickled_adapters], "adapter_model.bin"),
        ("train-head on pickled weights", ["train-head", "--data", d / "in", "--model", pickled_model, "--output",
                                           d / "o18"], "pytorch_model.bin"),
        ("finetune, missing data", ["finetune", "--data", d / "nope", "--model", m, "--output", d / "o10"],
         "does not exist"),
        ("prepare-data, missing file", ["prepare-data", "--format", "agiqa3k", "--root", d / "nope", "--output",
                                        d / "o11"], "nope"),
    ]


def _pickled_copies(d, tiny_model_dir):
    """The tiny model with its weights as a pickle (pytorch_model.bin), and its adapters with the quality
    one pickled (adapter_model.bin): what a download from an older release looks like."""
    import torch

    model, adapters = d / "pickled-model", d / "pickled-adapters"
    model.mkdir()
    for f in tiny_model_dir.iterdir():
        if f.name != "model.safetensors":
            (model / f.name).symlink_to(f)
    torch.save({"w": torch.zeros(2)}, model / "pytorch_model.bin")
    adapters.mkdir()
    for a in (tiny_model_dir / "adapters").iterdir():
        (adapters / a.name).mkdir()
        for f in a.iterdir():
            if not (a.name == "quality" and f.suffix == ".safetensors"):
                (adapters / a.name / f.name).symlink_to(f)
    torch.save({"w": torch.zeros(2)}, adapters / "quality" / "adapter_model.bin")
    return model, adapters


def test_each_wrong_invocation_is_one_line_exit_2_before_any_model_loads(bad_setups):
    failures = []
    for name, argv, must_say in bad_setups:
        out, seconds = agiqa(*argv)
        lines = [ln for ln in out.stderr.splitlines() if ln.startswith("agiqa ")]
        ok = (out.returncode == 2 and "Traceback" not in out.stderr and len(lines) == 1 and must_say in lines[0]
              and "weights_only" not in out.stderr
              and "loading " not in out.stderr and seconds < 30)
        if not ok:
            failures.append(f"{name}: exit {out.returncode} in {seconds:.1f}s: {out.stderr[-600:]}")
    assert failures == []


def test_eval_refuses_labels_that_match_no_scored_row(tmp_path):
    from tests.fixtures.shards import write_shard

    write_shard(tmp_path / "scored" / "s.parquet", [1, 2], quality_score=[1.0, 2.0], status=["ok", "ok"])
    write_shard(tmp_path / "labels" / "l.parquet", [7, 8], quality_mos=[1.0, 2.0])
    out, _ = agiqa("eval", "--scored", tmp_path / "scored", "--labels", tmp_path / "labels")
    assert out.returncode == 2 and "no 'id' matches" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_a_piped_log_is_clean_and_says_each_thing_once(tiny_model_dir, demo_shards, tmp_path):
    """No bars, no control codes, no line repeated per row or per batch beyond progress lines."""
    import re
    from collections import Counter

    out, _ = agiqa("score", "--input", demo_shards, "--output", tmp_path / "out", "--model", tiny_model_dir,
                   "--runner", "local", "--max-new-tokens", "6")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "\r" not in out.stderr and "\x1b" not in out.stderr
    lines = [re.sub(r"^\S+ \S+ ", "", ln) for ln in out.stderr.splitlines() if "agiqa.progress" not in ln]
    assert lines and max(Counter(lines).values()) == 1, Counter(lines).most_common(3)
    assert "rows 24" in out.stderr  # progress counted the rows
