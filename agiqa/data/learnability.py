"""A procedural dataset whose true MOS is known, for demos and learnability benchmarks.

Each row is drawn from its prompt ("three red circles on a white background": one object per
quadrant, on a background with a fine checker texture so that degradations show), then:
- quality: degraded by a known amount of one kind (blur, noise, JPEG, downscale) → quality MOS
  by severity (one kind per image, strong enough to see at 96 px: the dataset is for learning);
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
# quality degradations: amount per severity 1..3 (Gaussian radius, noise sigma, JPEG quality,
# downscale factor, for 96-px images); severity 0 (a quarter of the images) is a clean image
DEGRADATIONS = {"blur": (1.0, 2.0, 3.5), "noise": (12.0, 30.0, 60.0), "jpeg": (20, 8, 2), "downscale": (2, 4, 8)}
SEVERITY_WORDS = ("slightly", "clearly", "heavily")
DEGRADATION_WORDS = {"blur": "blurred", "noise": "noisy", "jpeg": "blocky from compression",
                     "downscale": "pixelated"}
MAX_GLITCHES = 4
TEXTURE_AMPLITUDE, TEXTURE_PERIOD = 40, 2  # background checker: grey-level step, cell size in px
ATTRIBUTES = ("count", "color", "shape")  # what a mismatched rendering changes
# what `render_row` reports as facts, and how many classes each has
FACT_CLASSES = {"count": len(COUNTS), "color": len(COLORS), "shape": len(SHAPES), "background": len(BACKGROUNDS),
                "degradation": 1 + len(DEGRADATIONS), "severity": 4, "glitches": MAX_GLITCHES + 1}


def _draw(scene: dict, size: int, rng: random.Random):
    """The scene on a finely textured background, objects in distinct quadrants.

    The texture (a 2-px checker, darker on white, lighter on black) stands in for the fine detail
    real images have: on flat colours, mild JPEG or a 2× downscale change almost nothing, and a
    small vision tower reached only ~0.4 held-out severity accuracy; with it, ~0.8 (docs/training.md).
    One object per quadrant (jittered) keeps the count visible: overlapping objects could not be told apart.
    """
    import numpy as np
    from PIL import Image, ImageDraw

    yy, xx = np.mgrid[:size, :size]
    checker = ((xx // TEXTURE_PERIOD + yy // TEXTURE_PERIOD) % 2).astype(np.float32)[..., None]
    shade = TEXTURE_AMPLITUDE if scene["background"] == "black" else -TEXTURE_AMPLITUDE
    base = np.asarray(BACKGROUNDS[scene["background"]], np.float32) + shade * checker
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    r = size // 6
    half = size // 2
    jitter = half // 2 - r
    for cell in rng.sample(range(4), scene["count"]):
        cx = (cell % 2) * half + half // 2 + rng.randint(-jitter, jitter)
        cy = (cell // 2) * half + half // 2 + rng.randint(-jitter, jitter)
        box = (cx - r, cy - r, cx + r, cy + r)
        fill = COLORS[scene["color"]]
        if scene["shape"] == "circle":
            d.ellipse(box, fill=fill)
        elif scene["shape"] == "square":
            d.rectangle(box, fill=fill)
        else:
            d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    return im


def _glitch_corners(n: int, size: int, nrng) -> list[tuple[int, int]]:
    """Top-left corners of `n` glitch blocks that neither overlap nor touch.

    The authenticity MOS counts the blocks, so each must be visible as one: drawn independently,
    a quarter of the images showed fewer blocks than they were scored for (overlapping blocks
    merge), which no perceiver can get right. Rejection sampling; four 19-px blocks fit easily
    in 96 px, and the draws are deterministic per row.
    """
    gs, gap = size // 5, 2
    corners: list[tuple[int, int]] = []
    while len(corners) < n:
        x, y = (int(v) for v in nrng.integers(0, size - gs, 2))
        if all(abs(x - cx) >= gs + gap or abs(y - cy) >= gs + gap for cx, cy in corners):
            corners.append((x, y))
    return corners


def _things(scene: dict) -> str:
    plural = "s" if scene["count"] > 1 else ""
    return f"{COUNTS[scene['count']]} {scene['color']} {scene['shape']}{plural} on a {scene['background']} background"


def make_row(i: int, seed: int, size: int = 96) -> dict:
    """One row: encoded image, prompt, true MOS per aspect, teacher description per aspect."""
    return render_row(i, seed, size)[0]


def render_row(i: int, seed: int, size: int = 96) -> tuple[dict, dict]:
    """(row, facts): the row as `make_row` gives it, and what was drawn and done to its image.

    The facts (shown count/colour/shape/background, degradation levels, glitch count, as class
    indices) are what a pretrained vision encoder perceives; `agiqa/demo_models/vision_pretrain.py`
    uses them to give the tiny model's random vision tower such a pretraining.
    """
    import numpy as np
    from PIL import ImageFilter

    rng = random.Random(seed * 1_000_003 + i)
    asked = {"count": rng.choice(list(COUNTS)), "color": rng.choice(list(COLORS)),
             "shape": rng.choice(SHAPES), "background": rng.choice(list(BACKGROUNDS))}
    prompt = _things(asked)
    shown = dict(asked)
    wrong = []
    if rng.random() < 0.5:
        for attr in rng.sample(["color", "shape", "count"], rng.randint(1, 3)):
            choices = {"color": list(COLORS), "shape": list(SHAPES), "count": list(COUNTS)}[attr]
            shown[attr] = rng.choice([c for c in choices if c != asked[attr]])
            wrong.append(attr)
    im = _draw(shown, size, rng)

    # authenticity: glitch artefacts, blocks of scan lines in random colours (unlike any object)
    glitches = rng.choice([0, 0, *range(1, MAX_GLITCHES + 1)])
    arr = np.asarray(im).copy()
    nrng = np.random.default_rng(seed * 7919 + i)
    for x, y in _glitch_corners(glitches, size, nrng):
        gs = size // 5
        arr[y : y + gs, x : x + gs] = nrng.integers(0, 256, (gs, 1, 3), dtype=np.uint8)
    from PIL import Image

    im = Image.fromarray(arr)
    # quality: one degradation, of a known kind and severity (0 = none)
    severity = rng.randint(0, 3)
    kind = rng.choice(list(DEGRADATIONS)) if severity else "none"
    amount = DEGRADATIONS[kind][severity - 1] if severity else None
    if kind == "blur":
        im = im.filter(ImageFilter.GaussianBlur(amount))
    elif kind == "noise":
        a = np.asarray(im).astype(np.float32) + nrng.normal(0, amount, (size, size, 3))
        im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    elif kind == "downscale":
        im = im.resize((size // amount, size // amount)).resize((size, size), Image.NEAREST)
    buf = io.BytesIO()
    if kind == "jpeg":
        im.save(buf, "JPEG", quality=amount)
    else:
        im.save(buf, "PNG")

    q_mos = 4.8 - 1.3 * severity
    c_mos = 4.8 - 1.5 * len(wrong)
    a_mos = 4.8 - 1.1 * glitches
    q_desc = ("The image is sharp and clean." if not severity else
              f"The image is {SEVERITY_WORDS[severity - 1]} {DEGRADATION_WORDS[kind]}.")
    # attribute by attribute, each verdict right after the value the image shows, so that each
    # verdict asks only "is this word in the prompt?"; the tiny describer learns it in part (one
    # sentence naming all wrong attributes was not learnt at all; docs/training.md)
    shown_words = {"count": COUNTS[shown["count"]], "color": shown["color"], "shape": shown["shape"]}
    c_desc = " ".join(f"The {attr} {shown_words[attr]} {'is wrong' if attr in wrong else 'matches'}."
                      for attr in ATTRIBUTES)
    a_desc = ("It looks natural with no artificial parts." if glitches == 0 else
              f"It has {COUNTS[glitches]} glitch artefact{'s' if glitches > 1 else ''}; it looks artificial.")
    facts = {"count": list(COUNTS).index(shown["count"]), "color": list(COLORS).index(shown["color"]),
             "shape": SHAPES.index(shown["shape"]), "background": list(BACKGROUNDS).index(shown["background"]),
             "degradation": ("none", *DEGRADATIONS).index(kind), "severity": severity, "glitches": glitches}
    row = {"id": f"{seed}-{i}", "image": buf.getvalue(), "prompt": prompt,
            "quality_mos": round(float(min(5, max(0, q_mos))), 4),
            "correspondence_mos": round(float(min(5, max(0, c_mos))), 4),
            "authenticity_mos": round(float(min(5, max(0, a_mos))), 4),
            "quality_teacher": q_desc, "correspondence_teacher": c_desc, "authenticity_teacher": a_desc}
    return row, facts


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
