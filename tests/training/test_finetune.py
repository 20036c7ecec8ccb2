"""finetune: labels cover the assistant turns only, a few steps lower the loss, and the saved adapter
gives `agiqa score`'s engine the very hidden states (so the very scores) the trainer's model had."""

import json
import subprocess
import sys

import pytest
import torch

from agiqa.model.prompts import M3AGIQA
from agiqa.training import distill as D

DESCS = ["The image is sharp and clean.", "The image is heavily blurred and very noisy, with strong artefacts."]


@pytest.fixture(scope="module")
def setup(tiny_model_dir, demo_shards):
    from transformers import AutoProcessor

    from agiqa.training.rows import decoded_rows

    good = decoded_rows(str(demo_shards), ["quality_mos", "quality_teacher"])[:8]
    processor = AutoProcessor.from_pretrained(tiny_model_dir, size={"shortest_edge": 56 * 56,
                                                                    "longest_edge": 448 * 448})
    encoder = D.ExampleEncoder(processor, max_length=512)
    rows = [D.DistillRow(im, M3AGIQA.first_turn("quality", r["prompt"]), DESCS[i % 2],
                         M3AGIQA.second_turn("quality"), 4.5 if i % 2 == 0 else 0.5)
            for i, (r, im) in enumerate(good)]
    return processor, rows, [encoder.encode(r) for r in rows]


def _fresh_lora(tiny_model_dir, **kw):
    from transformers import AutoModelForImageTextToText

    torch.manual_seed(0)
    base = AutoModelForImageTextToText.from_pretrained(tiny_model_dir, dtype=torch.float32)
    return D.add_lora(base, D.DistillSettings(lora_dropout=0.0, **kw))


def test_labels_are_exactly_the_two_assistant_answers(setup):
    processor, rows, examples = setup
    for row, ex in zip(rows, examples, strict=True):
        lab = ex["labels"]
        assert len(lab) == len(ex["input_ids"])
        kept = ex["input_ids"][lab != D.IGNORE]
        text = processor.tokenizer.decode(kept)
        answers = [t.strip() for t in text.split("<|im_end|>") if t.strip()]
        assert answers == [row.description, row.rating]
        assert "user" not in text and "<|image_pad|>" not in text
        # the image's tokens are all there and all unlabelled
        n_image = int((ex["input_ids"] == processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")).sum())
        assert n_image == int(ex["image_grid_thw"].prod()) // 4


def test_a_few_steps_lower_the_assistant_loss(tiny_model_dir, setup, tmp_path):
    processor, _, examples = setup
    pad = processor.tokenizer.pad_token_id
    model = _fresh_lora(tiny_model_dir)
    before = D.assistant_loss(model, examples, pad)
    log = D.distill(model, examples, pad, D.DistillSettings(max_steps=12, lr=2e-3, batch_size=4,
                                                            lora_dropout=0.0), tmp_path)
    after = D.assistant_loss(model, examples, pad)
    assert log and after < 0.7 * before, (before, after, log)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n and "language_model" in n for n in trainable)


def test_saved_adapter_gives_the_scoring_engine_the_trainers_hidden_states(tiny_model_dir, setup, tmp_path):
    from agiqa.engines.base import DescribeRequest, ScoringRequest
    from agiqa.engines.config import EngineConfig
    from agiqa.engines.hf import HFEngine
    from agiqa.engines.vllm import check_servable_adapter

    processor, rows, examples = setup
    model = _fresh_lora(tiny_model_dir)
    D.distill(model, examples, processor.tokenizer.pad_token_id,
              D.DistillSettings(max_steps=6, lr=2e-3, batch_size=4, lora_dropout=0.0), tmp_path / "t")
    model.save_pretrained(tmp_path / "adapters" / "quality")
    check_servable_adapter(tmp_path / "adapters" / "quality")  # vLLM can serve it as LoRA
    model.eval()

    engine = HFEngine(EngineConfig(model=str(tiny_model_dir), adapters=str(tmp_path / "adapters"),
                                   max_new_tokens=12), ("quality",))
    reqs = [ScoringRequest("quality", r.image, r.first_turn, r.description, r.second_turn) for r in rows[:3]]
    served = engine.hidden_states(reqs)
    base = model.get_base_model()
    with torch.inference_mode():
        for req, got in zip(reqs, served, strict=True):
            enc = engine.processor(text=[engine.conversation.scoring_prompt(req)], images=[req.image],
                                   return_tensors="pt")
            want = base.model(**enc).last_hidden_state[0]
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
        # and the trained adapter really is what the engine ran: the base model differs
        with model.disable_adapter():
            plain = base.model(**enc).last_hidden_state[0]
        assert not torch.allclose(plain, served[-1], atol=1e-3)
    # round 1 too: greedy descriptions from the engine equal the trainer model's own
    drs = [DescribeRequest("quality", r.image, r.first_turn) for r in rows[:2]]
    from_engine = engine.describe(drs)
    with torch.inference_mode():
        for dr, text in zip(drs, from_engine, strict=True):
            enc = engine.processor(text=[engine.conversation.describe_prompt(dr.first_turn)], images=[dr.image],
                                   return_tensors="pt")
            gen = model.generate(**enc, max_new_tokens=12, do_sample=False)
            assert processor.tokenizer.decode(gen[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip() \
                == text


def test_cli_writes_one_servable_adapter_per_aspect_with_its_record(tiny_model_dir, demo_shards, tmp_path):
    """On a prepared folder (a `split` column), train rows train, val rows validate, test rows stay out."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from agiqa.training.rows import load_rows

    rows = load_rows(str(demo_shards))
    for i, r in enumerate(rows):
        r["split"] = "train" if i < 14 else "val" if i < 18 else "test"
    (tmp_path / "prepared").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "prepared" / "part-00000.parquet")
    r = subprocess.run([sys.executable, "-m", "agiqa", "finetune", "--data", str(tmp_path / "prepared"), "--model",
                        str(tiny_model_dir), "--output", str(tmp_path / "ad"), "--aspects", "quality,authenticity",
                        "--max-steps", "2", "--batch-size", "4"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for aspect in ("quality", "authenticity"):
        d = tmp_path / "ad" / aspect
        assert (d / "adapter_model.safetensors").is_file()
        rec = json.loads((d / "agiqa_distill.json").read_text())
        assert rec["aspect"] == aspect and (rec["rows_train"], rec["rows_val"]) == (14, 4) and rec["log"]


def test_cli_refuses_data_without_teacher_descriptions(tiny_model_dir, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "d").mkdir()
    pq.write_table(pa.table({"image": [b"x"], "prompt": ["p"], "quality_mos": [3.0]}), tmp_path / "d" / "a.parquet")
    r = subprocess.run([sys.executable, "-m", "agiqa", "finetune", "--data", str(tmp_path / "d"), "--model",
                        str(tiny_model_dir), "--output", str(tmp_path / "o"), "--aspects", "quality"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "quality_teacher" in r.stderr and "Traceback" not in r.stderr


def test_mlp_lora_targets_stay_in_the_language_model_and_stay_servable(tiny_model_dir, tmp_path):
    from agiqa.engines.vllm import check_servable_adapter

    model = _fresh_lora(tiny_model_dir, lora_targets=("q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"))
    adapted = {n.rsplit(".lora_A", 1)[0].rsplit(".", 1)[-1] for n, _ in model.named_modules() if n.endswith("lora_A")}
    assert adapted == {"q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"}
    assert all("language_model" in n for n, _ in model.named_modules() if n.endswith("lora_A"))
    model.save_pretrained(tmp_path / "ad")
    check_servable_adapter(tmp_path / "ad")  # raises when vLLM could not serve it


def test_cli_refuses_lora_targets_outside_the_language_model(tiny_model_dir, demo_shards, tmp_path):
    r = subprocess.run([sys.executable, "-m", "agiqa", "finetune", "--data", str(demo_shards), "--model",
                        str(tiny_model_dir), "--output", str(tmp_path / "o"), "--lora-targets", "q_proj,fc1"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "fc1" in r.stderr and "linear layers" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()
