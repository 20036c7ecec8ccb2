"""M3 head: masking, save/load, and import of the reference's Lightning checkpoint layout."""

import pytest
import torch

from agiqa.model.head import M3Head
from agiqa.model.head_config import M3HeadConfig


def small_head(**kw):
    torch.manual_seed(0)
    return M3Head(M3HeadConfig(hidden_size=48, embedding_dim=32, context_length=128, **kw)).eval()


@pytest.mark.parametrize("pooling", ["mean", "max", "last"])
def test_padding_never_leaks_into_scores(pooling):
    head = small_head(pooling=pooling)
    with torch.no_grad():  # make the MLP sensitive so a leak would show
        head.fc[2].bias.fill_(2.5)
    seqs = [torch.randn(n, 48) for n in (7, 40, 23, 1)]
    batched = head.score(seqs)
    single = torch.cat([head.score([s]) for s in seqs])
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-5)


def test_save_load_round_trip_gives_identical_scores(tmp_path):
    head = small_head()
    seqs = [torch.randn(n, 48) for n in (5, 17)]
    head.save(tmp_path / "h")
    loaded = M3Head.load(tmp_path / "h")
    assert loaded.config == head.config
    torch.testing.assert_close(loaded.score(seqs), head.score(seqs), rtol=0, atol=0)


def test_load_refuses_unknown_config_keys(tmp_path):
    import json

    small_head().save(tmp_path / "h")
    cfg = json.loads((tmp_path / "h" / "head_config.json").read_text())
    cfg["bogus"] = 1
    (tmp_path / "h" / "head_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="bogus"):
        M3Head.load(tmp_path / "h")


def reference_state(head: M3Head, vocab: int) -> dict:
    """A state dict in the reference's Lightning layout, with an unfolded W over `vocab` logits."""
    state = {"model.W.weight": torch.randn(head.config.embedding_dim, vocab) / vocab**0.5,
             "model.W.bias": torch.randn(head.config.embedding_dim) * 0.1}
    for k, v in head.state_dict().items():
        if k.startswith("xlstm."):
            state["model.xlstm_pooler.xlstm_stack." + k[len("xlstm."):]] = v.clone()
        elif k.startswith("fc."):
            state["model." + k] = v.clone()
    state["model.model.llm.dropped"] = torch.zeros(1)  # frozen-MLLM keys are ignored
    return state


class Evil:
    """Stands for any arbitrary object a pickle could carry."""


def test_reference_import_refuses_pickled_objects(tmp_path):
    from agiqa.model.reference_import import read_state_dict

    torch.save({"state_dict": {}, "hyper": Evil()}, tmp_path / "x.ckpt")
    with pytest.raises(ValueError, match="holds more than tensors") as e:
        read_state_dict(tmp_path / "x.ckpt")
    msg = str(e.value)  # one line: what was refused and agiqa's advice, never PyTorch's "weights_only=False"
    assert "\n" not in msg and "Evil" in msg and "safetensors" in msg and "weights_only" not in msg
