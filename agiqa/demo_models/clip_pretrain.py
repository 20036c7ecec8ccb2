"""Give a tiny CLIP the pretraining a released CLIP comes with, on procedural image-caption pairs.

CLIP-AGIQA freezes CLIP: everything its head can learn must already be in CLIP's image feature
(and, for correspondence, in how the prompt's text feature lines up with it). A released CLIP
learnt that from 400M image-text pairs; a random tiny CLIP knows nothing, and a head on its
features stays at chance (measured: held-out SRCC 0.07 / 0.03 / 0.13 on the learnability data).
This module stands in for that pretraining, on a *separate* procedural set (its own seed; never
the rows a benchmark trains or tests on), with the two objectives a CLIP-style model is built
from:
- contrastive image-text alignment (CLIP's own loss) between each image and a caption of what is
  drawn in it ("three red circles on a white background", the shown objects, which differ from the
  generation prompt when the rendering went wrong): this trains the text tower too, so a prompt's
  text feature is comparable with the image's;
- linear read-outs of visual facts from the projected image feature (what was drawn, and what was
  done to the image: degradation kind and severity, glitch blocks), standing in for the low-level
  perception a web-scale CLIP has and a toy one cannot learn from 3000 captions.

The targets are visual facts and captions, never MOS. The initialisation choices follow
`vision_pretrain.py` (DCT patch embedding, default Linear init, zeroed residual branches), which
measured why a 2-layer tower needs them to learn degradations on 2 cores.
"""

from __future__ import annotations

import io
import math
import time

from agiqa.demo_models.vision_pretrain import HARD_FACT_WEIGHT, dct_patch_basis


def _init_for_pretraining(vision, sample_pixels) -> None:
    import torch
    from torch import nn

    with torch.no_grad():
        for m in vision.modules():
            if isinstance(m, nn.Linear):
                m.reset_parameters()
        conv = vision.embeddings.patch_embedding
        patch = conv.kernel_size[-1]
        basis = dct_patch_basis(conv.out_channels, patch, conv.in_channels, temporal=1).reshape(conv.out_channels, -1)
        patches = sample_pixels.unfold(2, patch, patch).unfold(3, patch, patch)  # (n, c, gh, gw, p, p)
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, basis.shape[1])
        scale = (patches @ basis.T).std(0).clamp_min(1e-6)
        conv.weight.copy_((basis / scale[:, None]).view_as(conv.weight))
        for layer in vision.encoder.layers:
            for out in (layer.self_attn.out_proj, layer.mlp.fc2):
                out.weight.zero_()
                out.bias.zero_()


def pretrain_tiny_clip(model, processor, tokenizer, rows: int = 3000, seed: int = 1000, epochs: int = 20,
                       lr: float = 3e-3, batch_size: int = 64, test_rows: int = 400, size: int = 96,
                       log=print) -> dict:
    """Re-initialise the vision tower and train the whole CLIP in place; returns a report.

    The report holds the held-out accuracy per fact (beside the majority class) and the held-out
    image->caption retrieval accuracy, so a reader of the folder knows what this CLIP can tell apart.
    """
    import torch
    from PIL import Image
    from torch import nn

    from agiqa.data.learnability import FACT_CLASSES, _things, render_row

    t0 = time.perf_counter()

    def draw(n, s):
        images, facts, captions = [], [], []
        for i in range(n):
            row, f = render_row(i, s, size)
            images.append(Image.open(io.BytesIO(row["image"])).convert("RGB"))
            facts.append([f[k] for k in FACT_CLASSES])
            captions.append(_things(_shown(f)))
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]
        text = tokenizer(captions, padding=True, return_tensors="pt")
        return pixels, text["input_ids"], text["attention_mask"], torch.tensor(facts)

    train = draw(rows, seed)
    test = draw(test_rows, seed + 1)
    torch.manual_seed(seed)
    _init_for_pretraining(model.vision_model, train[0][:500])
    dim = model.config.projection_dim
    readouts = nn.ModuleDict({k: nn.Linear(dim, n) for k, n in FACT_CLASSES.items()})
    model.train()
    for p in model.parameters():
        p.requires_grad_(True)
    opt = torch.optim.AdamW([*model.parameters(), *readouts.parameters()], lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(rows / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(seed)

    def forward(data, idx):
        pixels, ids, mask, facts = data
        out = model(input_ids=ids[idx], attention_mask=mask[idx], pixel_values=pixels[idx])
        return out, facts[idx]

    losses = []
    for epoch in range(epochs):
        order = torch.randperm(rows, generator=gen)
        total = 0.0
        for s in range(0, rows, batch_size):
            idx = order[s : s + batch_size]
            out, facts = forward(train, idx)
            target = _same_caption(train[1][idx])
            contrastive = (_soft_ce(out.logits_per_image, target) + _soft_ce(out.logits_per_text, target)) / 2
            feats = out.image_embeds * 4.0  # unit-norm features, scaled so linear read-outs can be sharp
            facts_loss = sum(HARD_FACT_WEIGHT.get(k, 1.0) * nn.functional.cross_entropy(readouts[k](feats),
                                                                                          facts[:, j])
                             for j, k in enumerate(FACT_CLASSES))
            loss = contrastive + facts_loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        losses.append(round(total / rows, 4))
        log(f"CLIP pretraining epoch {epoch + 1}/{epochs}: loss {losses[-1]:.3f}")
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
    with torch.no_grad():
        out, facts = forward(test, torch.arange(test_rows))
        feats = out.image_embeds * 4.0
        hit = _same_caption(test[1])[torch.arange(test_rows), out.logits_per_image.argmax(-1)] > 0
    accuracy = {k: round(float((readouts[k](feats).argmax(-1) == facts[:, j]).float().mean()), 3)
                for j, k in enumerate(FACT_CLASSES)}
    majority = {k: round(float(torch.bincount(facts[:, j]).max()) / test_rows, 3) for j, k in enumerate(FACT_CLASSES)}
    retrieval = round(float(hit.float().mean()), 3)
    log("CLIP pretraining held-out: image->caption retrieval " + f"{retrieval:.2f}; facts (majority class) "
        + ", ".join(f"{k} {accuracy[k]:.2f} ({majority[k]:.2f})" for k in FACT_CLASSES))
    return {"rows": rows, "seed": seed, "test_rows": test_rows, "test_seed": seed + 1, "epochs": epochs, "lr": lr,
            "batch_size": batch_size, "image_size": size, "loss_per_epoch": losses,
            "held_out_retrieval_accuracy": retrieval, "held_out_accuracy": accuracy,
            "majority_class_accuracy": majority, "seconds": round(time.perf_counter() - t0, 1)}


def _shown(facts: dict) -> dict:
    """The drawn objects (count/colour/shape/background names) from `render_row`'s class indices."""
    from agiqa.data.learnability import BACKGROUNDS, COLORS, COUNTS, SHAPES

    return {"count": list(COUNTS)[facts["count"]], "color": list(COLORS)[facts["color"]],
            "shape": SHAPES[facts["shape"]], "background": list(BACKGROUNDS)[facts["background"]]}


def _same_caption(ids):
    """Row-normalised targets: a batch holds repeated captions (144 distinct), each a right answer."""
    same = (ids[:, None, :] == ids[None, :, :]).all(-1).float()
    return same / same.sum(-1, keepdim=True)


def _soft_ce(logits, target):
    return -(target * logits.log_softmax(-1)).sum(-1).mean()
