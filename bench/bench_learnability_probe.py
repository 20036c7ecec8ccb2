"""How much of the procedural MOS can simple learners read from the images at all?

A check for bench_learnability.py, evaluated by SRCC on a test set of another seed:
(a) ridge regression (alpha chosen on a held-out part of the training rows, closed form in
numpy) from the tiny model's frozen, random vision tower outputs (the image tokens the LLM
sees), (b) the same from raw pixels at 24x24, and (c) a small CNN trained from scratch on the
MOS (`--cnn-epochs`, 0 to skip). (a) low says the frozen tower hides the signal from the LLM;
(c) high says the images carry it and a learnt vision model finds it from this many rows.

    python bench/bench_learnability_probe.py --model DIR [--train-rows 300] [--test-rows 100] [--cnn-epochs 40]
"""

from __future__ import annotations

import argparse
import io

import numpy as np


def ridge_srcc(xtr, ytr, xte, yte) -> float:
    from scipy.stats import spearmanr

    mu, sd = xtr.mean(0), xtr.std(0) + 1e-8
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    k = int(len(xtr) * 0.8)
    ym = ytr[:k].mean()

    def fit(x, y, alpha):
        return np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ (y - y.mean()))

    best = max(np.logspace(-2, 5, 15),
               key=lambda a: spearmanr(xtr[k:] @ fit(xtr[:k], ytr[:k], a) + ym, ytr[k:])[0])
    w = fit(xtr, ytr, best)
    return float(spearmanr(xte @ w, yte)[0])


def cnn_srcc(train_images, ytr, test_images, yte, epochs: int, seed: int = 0) -> float:
    """A 4-layer CNN regressor trained from scratch (AdamW, MSE); SRCC of its test predictions."""
    import torch
    from scipy.stats import spearmanr
    from torch import nn

    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(),
                        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
                        nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(64, 1))
    opt = torch.optim.AdamW(net.parameters(), 1e-3)
    x, y = torch.tensor(train_images), torch.tensor(ytr, dtype=torch.float32)
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for s in range(0, len(x), 32):
            b = perm[s : s + 32]
            loss = ((net(x[b]).squeeze(1) - y[b]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        pred = net(torch.tensor(test_images)).squeeze(1).numpy()
    return float(spearmanr(pred, yte)[0])


def main() -> None:
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from agiqa.data.learnability import make_row

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--train-rows", type=int, default=300)
    ap.add_argument("--test-rows", type=int, default=100)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--cnn-epochs", type=int, default=40)
    args = ap.parse_args()
    model = AutoModelForImageTextToText.from_pretrained(args.model).eval()
    proc = AutoProcessor.from_pretrained(args.model, size={"shortest_edge": 56 * 56, "longest_edge": 448 * 448})

    def features(rows):
        vis, pix, full = [], [], []
        for r in rows:
            im = Image.open(io.BytesIO(r["image"])).convert("RGB")
            enc = proc.image_processor(images=[im], return_tensors="pt")
            with torch.no_grad():
                out = model.model.visual(enc["pixel_values"], grid_thw=enc["image_grid_thw"])
            out = getattr(out, "pooler_output", out)  # transformers 5 returns an output object
            vis.append(out.flatten().numpy())
            pix.append(np.asarray(im.resize((24, 24))).astype(np.float64).flatten() / 255)
            full.append(np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255)
        return np.array(vis, dtype=np.float64), np.array(pix), np.stack(full)

    train = [make_row(i, 11, args.size) for i in range(args.train_rows)]
    test = [make_row(i, 12, args.size) for i in range(args.test_rows)]
    (vtr, ptr, itr), (vte, pte, ite) = features(train), features(test)
    print(f"{args.train_rows} train / {args.test_rows} test rows, {args.size}px; vision tower output "
          f"{vtr.shape[1]} values per image")
    print(f"{'aspect':16}{'ridge on vision tower':>24}{'ridge on raw pixels':>22}{'CNN trained on MOS':>20}")
    for a in ("quality", "correspondence", "authenticity"):
        ytr = np.array([r[f"{a}_mos"] for r in train])
        yte = np.array([r[f"{a}_mos"] for r in test])
        cnn = cnn_srcc(itr, ytr, ite, yte, args.cnn_epochs) if args.cnn_epochs else float("nan")
        print(f"{a:16}{ridge_srcc(vtr, ytr, vte, yte):>24.3f}{ridge_srcc(ptr, ytr, pte, yte):>22.3f}{cnn:>20.3f}",
              flush=True)


if __name__ == "__main__":
    main()
