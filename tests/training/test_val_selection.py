"""train-head picks its best epoch on the adapter's own descriptions of the validation rows, not the teacher's.

Validation rows carry both a teacher description and the adapter's own (`quality_response`, as
prepare-data keeps the reference's response_0). The validation SRCC per epoch that train-head
records is recomputed here from features built directly with the engine: it must equal the curve
on the adapter's descriptions, and differ from the curve on the teacher's (which is what a
selection on teacher text would give).
"""

import json
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def prepared(demo_shards, tmp_path_factory):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from agiqa.training.rows import load_rows

    rows = load_rows(str(demo_shards))
    own = ["The image looks fine.", "Strong blur everywhere.", "Some noise in the corners.", "A clean render."]
    for i, r in enumerate(rows):
        r["split"] = "train" if i < 16 else "val"
        r["quality_response"] = own[i % 4] if i >= 16 else None
    d = tmp_path_factory.mktemp("prepared")
    pq.write_table(pa.Table.from_pylist(rows), d / "part-00000.parquet")
    return d, rows


def _curves(tiny_model_dir, data) -> dict:
    """Val SRCC and MSE per epoch of the head trained as train-head trains it, with the validation rows'
    features on the adapter's descriptions ("own") or on the teacher's ("teacher")."""
    from agiqa.engines.base import ScoringRequest
    from agiqa.engines.config import EngineConfig
    from agiqa.engines.hf import HFEngine
    from agiqa.model.head import M3Head
    from agiqa.model.prompts import M3AGIQA as P
    from agiqa.training.head_trainer import train_head
    from agiqa.training.rows import decoded_rows

    engine = HFEngine(EngineConfig(model=str(tiny_model_dir)), ("quality",))
    good = decoded_rows(str(data), ["quality_mos"])
    tr = [(r, im) for r, im in good if r["split"] == "train"]
    va = [(r, im) for r, im in good if r["split"] == "val"]

    def feats(part, key):
        return engine.hidden_states([ScoringRequest("quality", im, P.first_turn("quality", r["prompt"]), r[key],
                                                    P.second_turn("quality")) for r, im in part])

    train_feats = feats(tr, "quality_teacher")
    out = {}
    for name, key in (("own", "quality_response"), ("teacher", "quality_teacher")):
        hist = train_head(M3Head.load(tiny_model_dir / "heads" / "quality"), train_feats,
                          [r["quality_mos"] for r, _ in tr], epochs=3, lr=3e-3, batch_size=4, seed=0,
                          val=(feats(va, key), [r["quality_mos"] for r, _ in va]))
        out[name] = hist
    return out


def test_best_epoch_is_picked_on_the_adapters_descriptions(tiny_model_dir, prepared, tmp_path):
    data, _ = prepared
    r = subprocess.run([sys.executable, "-m", "agiqa", "train-head", "--data", str(data), "--model",
                        str(tiny_model_dir), "--output", str(tmp_path / "heads"), "--aspects", "quality",
                        "--epochs", "3", "--lr", "3e-3", "--batch-size", "4"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    notes = json.loads((tmp_path / "heads" / "quality" / "head_config.json").read_text())["notes"]
    assert notes["descriptions"] == {"train": "teacher", "val": "column quality_response"}
    curves = _curves(tiny_model_dir, data)
    own, teacher = curves["own"]["val_mse"], curves["teacher"]["val_mse"]
    assert own != pytest.approx(teacher, rel=1e-3)  # the two validations really differ here
    assert notes["val_mse_by_epoch"] == pytest.approx(own, rel=1e-4)
    assert notes["val_srcc_by_epoch"] == pytest.approx(curves["own"]["val_srcc"], abs=1e-4)
    assert notes["best_epoch"] == curves["own"]["best_epoch"]


def test_column_required_but_missing_is_refused_in_one_line(tiny_model_dir, demo_shards, tmp_path):
    r = subprocess.run([sys.executable, "-m", "agiqa", "train-head", "--data", str(demo_shards), "--model",
                        str(tiny_model_dir), "--output", str(tmp_path / "o"), "--aspects", "quality",
                        "--val-descriptions", "column"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "quality_response" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()
