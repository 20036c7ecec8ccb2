"""On a CUDA GPU (skipped elsewhere): the hf engine gives the CPU's scores for the tiny model, in float32."""

import pytest

from agiqa.runner.engine_loop import run_sync

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_cuda_scores_match_cpu(tiny_model_dir, demo_shards):
    import pyarrow.parquet as pq

    from tests.fixtures.model import m3_stage

    batch = pq.read_table(sorted(demo_shards.glob("*.parquet"))[0]).slice(0, 4).to_batches()[0]
    out = {}
    for device in ("cpu", "cuda"):
        stage = m3_stage(tiny_model_dir, device=device, dtype="float32")
        out[device] = run_sync(stage.process(stage.prepare(batch))).to_pydict()
        stage.teardown()
    assert out["cuda"]["status"] == ["ok"] * 4
    for a in ("quality", "correspondence", "authenticity"):
        assert out["cuda"][f"{a}_score"] == pytest.approx(out["cpu"][f"{a}_score"], abs=1e-3)
