"""Labelled rows for training: read Parquet shards, decode images, split reproducibly.

Training commands take the same shards `agiqa score` does, plus label columns: `<aspect>_mos`
(0-5 scale) and, for distillation and head training, `<aspect>_teacher` (the teacher's
description). A `split` column (train/val/test, e.g. from `agiqa prepare-data`) is honoured;
without one, a seeded random split is drawn.
"""

from __future__ import annotations

import random

from agiqa.errors import DataError


def load_rows(data: str) -> list[dict]:
    """All rows of all shards under `data` (a folder or s3:// prefix), in shard order."""
    from agiqa.data.rows import read_rows

    return read_rows(data)


def decoded_rows(data: str, need: list[str], min_rows: int = 4, limits=None) -> list[tuple[dict, object]]:
    """(row, PIL image) for each row whose image decodes and whose prompt is usable; refuses data lacking
    `need` columns. Images and prompts are decoded and cleaned exactly as `agiqa score` does with the same
    `limits` (the score job's `images:` settings; default ImageLimits()), the row's `prompt` replaced by the
    cleaned one, so training sees what scoring sees."""
    from agiqa.config import ImageLimits
    from agiqa.data.images import BadRow, clean_prompt, decode_image

    rows = load_rows(data)
    if not rows:
        raise DataError(f"{data}: no rows (is it a folder of Parquet shards?)")
    missing = [c for c in ["image", "prompt", *need] if c not in rows[0]]
    if missing:
        raise DataError(f"{data}: missing column(s) {missing}")
    good, bad, no_prompt = [], 0, 0
    limits = limits or ImageLimits()
    for r in rows:
        try:
            image = decode_image(r.get("image"), limits)
        except BadRow:
            bad += 1
            continue
        try:
            good.append(({**r, "prompt": clean_prompt(r.get("prompt"), limits)}, image))
        except BadRow:
            no_prompt += 1
    if bad or no_prompt:
        import logging

        logging.getLogger(__name__).warning("%s: left out %d rows with bad images and %d without a prompt", data,
                                            bad, no_prompt)
    if len(good) < min_rows:
        raise DataError(f"{data}: {len(good)} usable rows ({bad} with bad images, {no_prompt} without a prompt); "
                        f"need at least {min_rows}")
    return good


def split(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded (train, val) index lists."""
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    k = int(round(n * val_fraction))
    return idx[k:], idx[:k]


def train_val(rows: list[dict], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """The rows' own `split` column when present (train vs val), else a seeded split."""
    if rows and "split" in rows[0]:
        train = [i for i, r in enumerate(rows) if r["split"] == "train"]
        val = [i for i, r in enumerate(rows) if r["split"] == "val"]
        if train:
            return train, val
    return split(len(rows), val_fraction, seed)


def training_subset(good: list[tuple[dict, object]], val_fraction: float, seed: int):
    """Only the rows that train or validate, in that order, with their index lists.

    A prepared folder also holds `test` rows; dropping them here keeps the expensive per-row
    work (encoding, the MLLM feature pass) to the rows that are used.
    """
    train_idx, val_idx = train_val([r for r, _ in good], val_fraction, seed)
    used = [good[i] for i in train_idx + val_idx]
    return used, list(range(len(train_idx))), list(range(len(train_idx), len(used)))


def image_limits_args(p) -> None:
    """`--raw-prompts` / `--reference-rgb`: the score job's `images.raw_prompts` / `images.reference_rgb`, so a
    model scored with the reference's input handling is trained with it too."""
    p.add_argument("--raw-prompts", action="store_true",
                   help="Prompts exactly as given, as `images.raw_prompts: true` scores them (default: cleaned).")
    p.add_argument("--reference-rgb", action="store_true",
                   help="Decode images as `images.reference_rgb: true` does (the reference's convert('RGB')).")


def image_limits(args):
    from agiqa.config import ImageLimits

    return ImageLimits(raw_prompts=args.raw_prompts, reference_rgb=args.reference_rgb)
