"""M3 head: masking, save/load, and import of the reference's Lightning checkpoint layout."""

import pytest
import torch

from agiqa.model.fold import unfolded_projection
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


def test_reference_checkpoint_import_round_trip(tmp_path):
    from agiqa.model.reference_import import import_reference_head, read_state_dict

    src = small_head()
    vocab = 300
    lm_w = torch.randn(vocab, 48) / 48**0.5
    state = reference_state(src, vocab)
    ckpt = tmp_path / "best-epoch=11-val_SRCC=0.89.ckpt"
    torch.save({"state_dict": state, "epoch": 11}, ckpt)
    head = import_reference_head(read_state_dict(ckpt), lm_w, None, context_length=128, aspect="quality")
    assert head.config.slstm_at == [1] and head.config.num_blocks == 4 and head.config.trained

    # The reference's forward: W over the explicit logits, then the same stack and MLP.
    seqs = [torch.randn(n, 48) for n in (9, 30)]
    from agiqa.model.head import pad_right

    hidden, mask = pad_right(seqs, 128)
    with torch.no_grad():
        x = unfolded_projection(hidden, state["model.W.weight"], state["model.W.bias"], lm_w)
        expected = src.fc(src.pool(src.xlstm(x), mask)).squeeze(-1).clamp(0, 5)
    torch.testing.assert_close(head.score(seqs), expected, rtol=1e-4, atol=1e-5)

    head.save(tmp_path / "imported")
    torch.testing.assert_close(M3Head.load(tmp_path / "imported").score(seqs), head.score(seqs), rtol=0, atol=0)


class Evil:
    """Stands for any arbitrary object a pickle could carry."""


def test_reference_import_refuses_pickled_objects(tmp_path):
    from agiqa.model.reference_import import read_state_dict

    torch.save({"state_dict": {}, "hyper": Evil()}, tmp_path / "x.ckpt")
    with pytest.raises(ValueError, match="weights_only"):
        read_state_dict(tmp_path / "x.ckpt")
