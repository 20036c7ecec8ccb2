"""Training sees what scoring sees: the same prompt cleaning, image padding and prompt cutting.

The scorer's side is `agiqa score`'s own path (ScoreStage.prepare_values, then the M3 method's
conversations); the trainer's is what `finetune` and `train-head` call. Rows are chosen so each
step changes something: control characters and runs of whitespace in prompts, a prompt far over
`max_length`, and a 1000x8 image the processor would refuse unpadded.
"""

import io

import numpy as np
import pytest
from PIL import Image

from tests.fixtures.model import m3_stage

PROMPTS = ["  a red\tcircle\x00 on a  white\nbackground  ", "three blue squares " * 200, "a cat", "two green stars"]


def _png(w: int, h: int, seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray((np.random.RandomState(seed).rand(h, w, 3) * 255).astype("uint8")).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("reference_handling", [False, True], ids=["cleaned", "raw_prompts+reference_rgb"])
def test_trainer_conversations_equal_the_scorers(tiny_model_dir, tmp_path, reference_handling):
    """Default handling, and the score job's opt-in reference handling (`images.raw_prompts/reference_rgb`,
    which finetune and train-head take as --raw-prompts/--reference-rgb)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from agiqa.aspects import ASPECTS
    from agiqa.config import ImageLimits
    from agiqa.stages.score import ScoreStage
    from agiqa.training.inputs import training_conversations
    from agiqa.training.rows import decoded_rows

    images = [_png(64, 64, 0), _png(80, 60, 1), _png(1000, 8, 2), _png(56, 56, 3)]
    data = tmp_path / "d"
    data.mkdir()
    pq.write_table(pa.table({"id": ["a", "b", "c", "d"], "image": images, "prompt": PROMPTS,
                             **{f"{a}_mos": [3.0] * 4 for a in ASPECTS}}), data / "part-0.parquet")
    limits = ImageLimits(raw_prompts=reference_handling, reference_rgb=reference_handling)
    stage = m3_stage(tiny_model_dir, max_new_tokens=16, max_length=256)
    try:
        prep = ScoreStage(stage.method, limits=limits).prepare_values(images, PROMPTS)
        method = stage.method
        scorer, notes = method._conversations(prep.images, prep.prompts)
        good = decoded_rows(str(data), [f"{a}_mos" for a in ASPECTS], limits=limits)
        assert [r["prompt"] for r, _ in good] == prep.prompts  # cleaned (or not) as scoring does
        assert ("\x00" in good[0][0]["prompt"]) == reference_handling
        assert notes[1] and "prompt cut" in notes[1] and notes[2] and "padded" in notes[2]  # the cases happen
        k = len(method.aspects)
        for j, aspect in enumerate(method.aspects):
            trainer = training_conversations(good, aspect, method.prompts, method.engine.conversation,
                                             max_new_tokens=16, max_length=256)
            for t, s in zip(trainer, scorer[j::k], strict=True):
                assert (t.aspect, t.first_turn, t.second_turn) == (s.aspect, s.first_turn, s.second_turn)
                assert t.image.size == s.image.size and t.image.tobytes() == s.image.tobytes()
    finally:
        stage.teardown()
