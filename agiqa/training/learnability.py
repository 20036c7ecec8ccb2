"""A procedural dataset whose true MOS is known, for demos and learnability benchmarks.

Each row is drawn from its prompt ("three red circles on a white background"), then:
- quality: degraded by known amounts (blur, noise, JPEG, downscale) → quality MOS;
- correspondence: with some probability rendered against a different colour/shape/count
  than the prompt asks → correspondence MOS by the number of mismatched attributes;
- authenticity: given synthetic artefacts (glitch blocks, colour blotches) → authenticity MOS.
Teacher descriptions per aspect are written from the known degradations, as a teacher model
given the ground truth would (the reference's Gemini was given the MOS).
"""

from __future__ import annotations

import io
import math
import random

COLORS = {"red": (220, 30, 30), "green": (30, 170, 60), "blue": (40, 70, 220), "yellow": (235, 210, 40),
          "purple": (140, 50, 180), "orange": (245, 140, 20)}
SHAPES = ("circle", "square", "triangle")
COUNTS = {1: "one", 2: "two", 3: "three", 4: "four"}
BACKGROUNDS = {"white": (245, 245, 245), "black": (15, 15, 15)}


def _draw(scene: dict, size: int, rng: random.Random):
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (size, size), BACKGROUNDS[scene["background"]])
    d = ImageDraw.Draw(im)
    r = size // 8
    for _ in range(scene["count"]):
        cx, cy = rng.randint(r, size - r), rng.randint(r, size - r)
        box = (cx - r, cy - r, cx + r, cy + r)
        fill = COLORS[scene["color"]]
        if scene["shape"] == "circle":
            d.ellipse(box, fill=fill)
        elif scene["shape"] == "square":
            d.rectangle(box, fill=fill)
        else:
            d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    return im


def _word(level: float, words: tuple[str, str, str]) -> str:
    return words[0] if level < 0.15 else words[1] if level < 0.6 else words[2]


def make_row(i: int, seed: int, size: int = 96) -> dict:
    """One row: encoded image, prompt, true MOS per aspect, teacher description per aspect."""
    import numpy as np
    from PIL import ImageFilter

    rng = random.Random(seed * 1_000_003 + i)
    asked = {"count": rng.choice(list(COUNTS)), "color": rng.choice(list(COLORS)),
             "shape": rng.choice(SHAPES), "background": rng.choice(list(BACKGROUNDS))}
    prompt = f"{COUNTS[asked['count']]} {asked['color']} {asked['shape']}{'s' if asked['count'] > 1 else ''} " \
             f"on a {asked['background']} background"
    shown = dict(asked)
    wrong = []
    if rng.random() < 0.5:
        for attr in rng.sample(["color", "shape", "count"], rng.randint(1, 3)):
            choices = {"color": list(COLORS), "shape": list(SHAPES), "count": list(COUNTS)}[attr]
            shown[attr] = rng.choice([c for c in choices if c != asked[attr]])
            wrong.append(attr)
    im = _draw(shown, size, rng)

    # authenticity: artefacts
    glitches = rng.choice([0, 0, 1, 2, 3, 4])
    arr = np.asarray(im).copy()
    nrng = np.random.default_rng(seed * 7919 + i)
    for _ in range(glitches):
        gs = size // 5
        x, y = nrng.integers(0, size - gs, 2)
        block = arr[y : y + gs, x : x + gs].reshape(-1, 3)
        arr[y : y + gs, x : x + gs] = nrng.permutation(block).reshape(gs, gs, 3) ^ nrng.integers(0, 255, 3,
                                                                                                dtype=np.uint8)
    from PIL import Image

    im = Image.fromarray(arr)
    # quality: degradations
    blur, noise = rng.choice([0.0, 0.0, 0.5, 1.0, 2.0, 3.0]), rng.choice([0.0, 0.0, 8.0, 20.0, 40.0])
    jpeg_q, down = rng.choice([95, 95, 60, 30, 10]), rng.choice([1, 1, 2, 4])
    if blur:
        im = im.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        a = np.asarray(im).astype(np.float32) + nrng.normal(0, noise, (size, size, 3))
        im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    if down > 1:
        im = im.resize((size // down, size // down)).resize((size, size), Image.NEAREST)
    buf = io.BytesIO()
    if jpeg_q < 95:
        im.save(buf, "JPEG", quality=jpeg_q)
    else:
        im.save(buf, "PNG")

    lv = {"blur": blur / 3, "noise": noise / 40, "jpeg": (95 - jpeg_q) / 85, "down": math.log2(down) / 2}
    q_mos = 5 - (1.5 * lv["blur"] + 1.5 * lv["noise"] + 1.0 * lv["jpeg"] + 1.0 * lv["down"])
    c_mos = 4.8 - 1.5 * len(wrong)
    a_mos = 4.8 - 1.1 * glitches
    q_desc = (f"The image is {_word(lv['blur'], ('sharp', 'slightly blurred', 'heavily blurred'))}, "
              f"{_word(lv['noise'], ('clean', 'slightly noisy', 'very noisy'))}, with "
              f"{_word(lv['jpeg'], ('no', 'mild', 'strong'))} compression artefacts and "
              f"{_word(lv['down'], ('full', 'reduced', 'low'))} resolution.")
    c_desc = (f"The image shows {COUNTS[shown['count']]} {shown['color']} {shown['shape']}s on a "
              f"{shown['background']} background. "
              + ("It matches the prompt." if not wrong else f"The {', '.join(wrong)} is wrong for the prompt."))
    a_desc = ("It looks natural with no artificial parts." if glitches == 0 else
              f"It has {'a few' if glitches <= 2 else 'many'} glitch artefacts; it looks artificial.")
    return {"id": f"{seed}-{i}", "image": buf.getvalue(), "prompt": prompt,
            "quality_mos": round(float(min(5, max(0, q_mos))), 4),
            "correspondence_mos": round(float(min(5, max(0, c_mos))), 4),
            "authenticity_mos": round(float(min(5, max(0, a_mos))), 4),
            "quality_teacher": q_desc, "correspondence_teacher": c_desc, "authenticity_teacher": a_desc}


def write_shards(out: str, rows: int, shards: int, seed: int = 0, size: int = 96) -> list[str]:
    """Write `rows` rows over `shards` Parquet shards (`part-00000.parquet`, ...) in `out`."""
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(out, exist_ok=True)
    paths = []
    per = math.ceil(rows / shards)
    for s in range(shards):
        recs = [make_row(i, seed, size) for i in range(s * per, min(rows, (s + 1) * per))]
        table = pa.Table.from_pylist(recs) if recs else pa.Table.from_pylist([make_row(0, seed, size)]).slice(0, 0)
        path = os.path.join(out, f"part-{s:05d}.parquet")
        pq.write_table(table, path, row_group_size=16)
        paths.append(path)
    return paths
