"""The reference's image slicing for MiniCPM-V 2.5 (`slice_image` in M3-AGIQA's models/MiniCPM.py and in
MiniCPM-V's image processor), re-derived from its description, plus the token placeholder layout.

An image becomes one downsampled *source* image near `scale**2` pixels, plus, when it holds more than
one `scale**2` area, a grid of *slices* of the image resized to fit that grid. Every side is a multiple
of the patch size. In the text, each image is `<image>` + `<unk>` x query_num + `</image>`; the slices
follow the source as `<slice>` + rows joined by `\\n` + `</slice>`, each row the grid's columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SliceConfig:
    max_slice_nums: int = 9
    scale_resolution: int = 448
    patch_size: int = 14


def _to_multiple(length: float, patch: int) -> int:
    """`length` rounded to the nearest multiple of `patch` (at least one patch)."""
    return max(round(length / patch) * patch, patch)


def best_resize(size: tuple[float, float], scale: int, patch: int, allow_upscale: bool = False) -> tuple[int, int]:
    """(width, height) of about `scale**2` pixels with the aspect ratio of `size`, sides multiples of `patch`.

    Images no larger than `scale**2` keep their size unless `allow_upscale`."""
    width, height = size
    if width * height > scale * scale or allow_upscale:
        r = width / height
        height = int(scale / math.sqrt(r))
        width = int(height * r)
    return _to_multiple(width, patch), _to_multiple(height, patch)


def choose_grid(size: tuple[int, int], cfg: SliceConfig) -> tuple[int, int] | None:
    """(columns, rows) of the slice grid, or None when the image is not sliced.

    With m = ceil(W*H / scale^2) capped at `max_slice_nums`: no slicing when m <= 1; otherwise every
    factorisation of m-1, m and m+1 (1 and counts over the cap excluded) is a candidate, and the first
    one (in that order, columns ascending) whose log aspect ratio is closest to the image's wins."""
    width, height = size
    multiple = min(math.ceil(width * height / cfg.scale_resolution**2), cfg.max_slice_nums)
    if multiple <= 1:
        return None
    log_ratio = math.log(width / height)
    best, best_err = (1, 1), float("inf")
    for n in (multiple - 1, multiple, multiple + 1):
        if n == 1 or n > cfg.max_slice_nums:
            continue
        for cols in range(1, n + 1):
            if n % cols:
                continue
            err = abs(log_ratio - math.log(cols / (n // cols)))
            if err < best_err:
                best, best_err = (cols, n // cols), err
    return best


def refine_size(size: tuple[int, int], grid: tuple[int, int], cfg: SliceConfig) -> tuple[int, int]:
    """Size the whole image is resized to before cutting it into `grid` slices of about scale^2 each."""
    cols, rows = grid
    cell = (_to_multiple(size[0], cols) / cols, _to_multiple(size[1], rows) / rows)
    w, h = best_resize(cell, cfg.scale_resolution, cfg.patch_size, allow_upscale=True)
    return w * cols, h * rows


def slice_image(image, cfg: SliceConfig):
    """(source image, slices row by row, grid or None) for a PIL RGB image, bicubic resampling."""
    from PIL import Image

    grid = choose_grid(image.size, cfg)
    if grid is None:
        size = best_resize(image.size, cfg.scale_resolution, cfg.patch_size, allow_upscale=True)
        return image.resize(size, Image.Resampling.BICUBIC), [], None
    source = image.resize(best_resize(image.size, cfg.scale_resolution, cfg.patch_size), Image.Resampling.BICUBIC)
    refined = image.resize(refine_size(image.size, grid, cfg), Image.Resampling.BICUBIC)
    cw, ch = refined.size[0] // grid[0], refined.size[1] // grid[1]
    rows = [[refined.crop((x, y, x + cw, y + ch)) for x in range(0, refined.size[0], cw)]
            for y in range(0, refined.size[1], ch)]
    return source, rows, grid


@dataclass(frozen=True)
class SpecialTokens:
    im_start: str = "<image>"
    im_end: str = "</image>"
    slice_start: str = "<slice>"
    slice_end: str = "</slice>"
    unk: str = "<unk>"


def image_placeholder(grid: tuple[int, int] | None, query_num: int, tokens: SpecialTokens = SpecialTokens()) -> str:
    """The text that stands for one image: the source's placeholder, then the slice rows if any."""
    one = tokens.im_start + tokens.unk * query_num + tokens.im_end
    if grid is None:
        return one
    cols, rows = grid
    return one + tokens.slice_start + "\n".join(one * cols for _ in range(rows)) + tokens.slice_end


def pixel_patches(image, patch: int):
    """A PIL image as the reference feeds it: ToTensor, Normalize(0.5, 0.5), then one row of patches,
    [3, patch, (H/patch)*(W/patch)*patch] with patches in row-major order (`reshape_by_patch`).
    Returns (tensor, (H/patch, W/patch))."""
    import numpy as np
    import torch

    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
    x = (x - 0.5) / 0.5
    c, h, w = x.shape
    nh, nw = h // patch, w // patch
    # [3, nh, p, nw, p] -> [3, p(row in patch), nh*nw, p(col in patch)] -> [3, p, nh*nw*p]
    x = x[:, : nh * patch, : nw * patch].reshape(c, nh, patch, nw, patch).permute(0, 2, 1, 3, 4)
    return x.reshape(c, patch, nh * nw * patch), (nh, nw)
