"""`agiqa train-head --method clip-agiqa`: heads trained from a CLIP folder, then scored with."""

import json
import subprocess
import sys


def test_train_head_writes_heads_that_score(tiny_clip_dir, tmp_path):
    from agiqa.data.learnability import write_shards

    data, heads = tmp_path / "data", tmp_path / "heads"
    write_shards(str(data), rows=24, shards=2, seed=3, size=48)
    run = subprocess.run([sys.executable, "-m", "agiqa", "train-head", "--method", "clip-agiqa", "--data", str(data),
                          "--model", str(tiny_clip_dir), "--output", str(heads), "--epochs", "3"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    for aspect in ("quality", "correspondence", "authenticity"):
        cfg = json.loads((heads / aspect / "clip_head_config.json").read_text())
        assert cfg["trained"] and cfg["use_prompt"] == (aspect == "correspondence") and cfg["notes"]["epochs"] == 3
    scored = subprocess.run([sys.executable, "-m", "agiqa", "score", "--method", "clip-agiqa", "--model",
                             str(tiny_clip_dir), "--heads", str(heads), "--input", str(data), "--output",
                             str(tmp_path / "out"), "--runner", "local", "--no-progress"],
                            capture_output=True, text=True, timeout=300)
    assert scored.returncode == 0, scored.stderr[-2000:]
    assert "24 ok" in scored.stdout


def test_an_mllm_folder_is_refused_in_one_line(tiny_model_dir, tmp_path):
    run = subprocess.run([sys.executable, "-m", "agiqa", "train-head", "--method", "clip-agiqa", "--data",
                          str(tmp_path), "--model", str(tiny_model_dir), "--output", str(tmp_path / "h")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "not a CLIP folder" in run.stderr and "Traceback" not in run.stderr
