"""train-head starts from any base: with no head folder, fresh heads are sized from the base's config,
trained, and then score through `agiqa score`'s method on that same base (the docs' recipe)."""

import json
import subprocess
import sys


def test_train_head_on_a_base_without_heads_then_score(tiny_qwen25_dir, demo_shards, tmp_path):
    from agiqa.methods.m3.config import M3Config
    from agiqa.training.rows import decoded_rows

    assert not (tiny_qwen25_dir / "heads").exists()
    out = tmp_path / "heads"
    r = subprocess.run([sys.executable, "-m", "agiqa", "train-head", "--data", str(demo_shards), "--model",
                        str(tiny_qwen25_dir), "--output", str(out), "--aspects", "quality", "--epochs", "2",
                        "--batch-size", "4", "--head-dim", "32", "--max-new-tokens", "8"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    base_cfg = json.loads((tiny_qwen25_dir / "config.json").read_text())
    hc = json.loads((out / "quality" / "head_config.json").read_text())
    assert hc["hidden_size"] == base_cfg["text_config"]["hidden_size"] and hc["embedding_dim"] == 32
    assert hc["trained"] is True and hc["notes"]["vocab"] == base_cfg["text_config"]["vocab_size"]
    # the trained head scores on the base it was made for, through the scoring method
    method = M3Config(engine={"model": str(tiny_qwen25_dir), "max_new_tokens": 6}, heads=str(out)).build(("quality",))
    method.setup()
    try:
        rows = decoded_rows(str(demo_shards), ["quality_mos"])[:3]
        got = method.score([im for _, im in rows], [r["prompt"] for r, _ in rows]).scores["quality"]
    finally:
        method.teardown()
    assert len(got) == 3 and all(0.0 <= s <= 5.0 for s in got)


def test_init_heads_that_do_not_exist_are_refused_in_one_line(tiny_qwen25_dir, demo_shards, tmp_path):
    r = subprocess.run([sys.executable, "-m", "agiqa", "train-head", "--data", str(demo_shards), "--model",
                        str(tiny_qwen25_dir), "--output", str(tmp_path / "o"), "--init-heads", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "--init-heads" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()
