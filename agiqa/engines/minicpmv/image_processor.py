"""MiniCPM-V 2.5's image processor, rebuilt on `slicing.py`: what vLLM's MiniCPM-V support asks of one.

The release ships its image processor as remote code (`image_processing_minicpmv.py`); vLLM loads it
through `auto_map`, which would execute it. This class answers the same questions from agiqa's own
slicing (the one the hf engine uses, tested against the reference's grids and layouts): the slice grid
and placeholder text for an image size, and the pixel rows of an image's source and slices with their
patch grids (`tgt_sizes`). `max_slice_nums` can be given per call: the scoring pass uses the head's.
"""

from __future__ import annotations

import torch

from agiqa.engines.minicpmv.slicing import (
    SliceConfig,
    choose_grid,
    image_placeholder,
    pixel_patches,
    slice_image,
)


class MiniCPMV25ImageProcessor:
    model_input_names = ["pixel_values", "image_sizes", "tgt_sizes"]

    def __init__(self, max_slice_nums: int = 9, scale_resolution: int = 448, patch_size: int = 14,
                 image_feature_size: int = 96, im_start: str = "<image>", im_end: str = "</image>", **_ignored):
        self.max_slice_nums = int(max_slice_nums)
        self.scale_resolution = int(scale_resolution)
        self.patch_size = int(patch_size)
        self.image_feature_size = int(image_feature_size)
        self.im_start_token, self.im_end_token = im_start, im_end

    def slice_config(self, max_slice_nums: int | None = None) -> SliceConfig:
        return SliceConfig(max_slice_nums=int(max_slice_nums or self.max_slice_nums),
                           scale_resolution=self.scale_resolution, patch_size=self.patch_size)

    def get_sliced_grid(self, image_size, max_slice_nums: int | None = None) -> tuple[int, int] | None:
        return choose_grid(tuple(image_size), self.slice_config(max_slice_nums))

    def get_slice_image_placeholder(self, image_size, max_slice_nums: int | None = None, **_ignored) -> str:
        return image_placeholder(self.get_sliced_grid(image_size, max_slice_nums), self.image_feature_size)

    def __call__(self, images, max_slice_nums: int | None = None, **_ignored) -> dict:
        """images: PIL images (or a list of lists, one per prompt). Per image: its pixel rows (source,
        then slices row by row, each [3, patch, n*patch]), its size (w, h), and the patch grids [n, 2]."""
        flat = [im for group in images for im in group] if images and isinstance(images[0], list) else list(images)
        pixels, sizes, tgt = [], [], []
        for im in flat:
            source, rows, _ = slice_image(im, self.slice_config(max_slice_nums))
            rows_px = [pixel_patches(p, self.patch_size) for p in [source, *(s for r in rows for s in r)]]
            pixels.append([px for px, _ in rows_px])
            sizes.append(torch.tensor(im.size))
            tgt.append(torch.tensor([hw for _, hw in rows_px], dtype=torch.int32))
        return {"pixel_values": pixels, "image_sizes": sizes, "tgt_sizes": tgt}
