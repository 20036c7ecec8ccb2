"""The reference's inputs for MiniCPM-V 2.5: slicing grids, sizes, placeholder layouts, templates, tail truncation.

Every expected value below was worked out by hand from the reference's algorithm (M3-AGIQA
models/MiniCPM.py `slice_image`, `find_best_resize`, `get_refine_size`, `get_grid_placeholder`,
`llama3_chat_template`, `data_collator`); the arithmetic is written next to each case.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

IMG = "<image>" + "<unk>" * 96 + "</image>"  # one image at the release's query_num 96


def _img(w, h):
    return Image.fromarray(np.random.default_rng(w * 7 + h).integers(0, 255, (h, w, 3), dtype=np.uint8))


# (image size, max slices) -> (grid (cols, rows) or None, source size, slice size or None)
CASES = [
    # 448x448: m = ceil(1) = 1 -> no slices; upscale rule: r=1, h=int(448)=448, w=448
    ((448, 448), 9, None, (448, 448), None),
    # 300x200: m = ceil(0.30) = 1 -> no slices; r=1.5, h=int(448/1.2247)=365, w=int(547.5)=547
    #   -> round(547/14)=39 -> 546, round(365/14)=26 -> 364
    ((300, 200), 9, None, (546, 364), None),
    # 448x896: m=2; candidates 2:[1,2],[2,1] 3:[1,3],[3,1]; log(0.5) matches [1,2] exactly.
    #   source: r=0.5, h=int(633.57)=633, w=int(316.5)=316 -> 23*14=322, 45*14=630; cell 448x448
    ((448, 896), 9, (1, 2), (322, 630), (448, 448)),
    # 1000x1000: m=ceil(4.98)=5; candidates 4,5,6 -> [2,2] (error 0). source 448x448;
    #   refine: ensure_divide(1000, 2)=1000 -> cell 500x500 -> upscaled to 448x448
    ((1000, 1000), 9, (2, 2), (448, 448), (448, 448)),
    # 896x1344: m=6; candidates 5,6,7 -> [2,3] (log(2/3) exactly). source: r=2/3, h=int(548.69)=548,
    #   w=int(365.3)=365 -> 26*14=364, 39*14=546; cell 448x448
    ((896, 1344), 9, (2, 3), (364, 546), (448, 448)),
    # 1344x1344: m=min(9,9)=9; candidates 8,9 (10 > 9) -> [3,3]. source 448x448, cell 448x448
    ((1344, 1344), 9, (3, 3), (448, 448), (448, 448)),
    # the same image with the 20K head's 4 slices: m=min(9,4)=4; candidates 3,4 -> [2,2]
    ((1344, 1344), 4, (2, 2), (448, 448), (448, 448)),
    # 1024x1024 (AGIQA-3K): m=ceil(5.22)=6; [2,3] and [3,2] tie at |log(2/3)| on paper, but in floats
    #   abs(log(2/3)) = 0.40546510810816444 > log(3/2) = 0.4054651081081644, so [3,2] wins (3 columns)
    ((1024, 1024), 9, (3, 2), (448, 448), None),
]


@pytest.mark.parametrize("size,slices,grid,source,cell", CASES)
def test_grid_and_sizes(size, slices, grid, source, cell):
    from agiqa.engines.minicpmv.slicing import SliceConfig, slice_image

    src, rows, g = slice_image(_img(*size), SliceConfig(max_slice_nums=slices))
    assert g == (None if grid is None else tuple(grid))
    assert src.size == source
    if grid is None:
        assert rows == []
        return
    assert len(rows) == grid[1] and all(len(r) == grid[0] for r in rows)
    if cell is not None:
        assert {s.size for r in rows for s in r} == {cell}


@pytest.mark.parametrize("grid,expected", [
    (None, IMG),
    ((1, 2), IMG + "<slice>" + IMG + "\n" + IMG + "</slice>"),
    ((2, 2), IMG + "<slice>" + IMG + IMG + "\n" + IMG + IMG + "</slice>"),
    ((2, 3), IMG + "<slice>" + IMG + IMG + "\n" + IMG + IMG + "\n" + IMG + IMG + "</slice>"),
    ((3, 3), IMG + "<slice>" + (IMG * 3 + "\n") * 2 + IMG * 3 + "</slice>"),
])
def test_placeholder_layout(grid, expected):
    from agiqa.engines.minicpmv.slicing import image_placeholder

    assert image_placeholder(grid, 96) == expected


def test_pixel_rows_are_patches_in_row_major_order():
    import torch

    from agiqa.engines.minicpmv.slicing import pixel_patches

    img = _img(56, 28)
    x, (h, w) = pixel_patches(img, 14)
    assert (h, w) == (2, 4) and tuple(x.shape) == (3, 14, 8 * 14)
    ref = (torch.from_numpy(np.asarray(img, dtype=np.float32)).permute(2, 0, 1) / 255.0 - 0.5) / 0.5
    for patch in range(8):
        r, c = divmod(patch, 4)
        assert torch.equal(x[:, :, patch * 14:(patch + 1) * 14], ref[:, r * 14:(r + 1) * 14, c * 14:(c + 1) * 14])


@pytest.fixture(scope="module")
def inputs(tiny_minicpmv_dir):
    from agiqa.engines.minicpmv.inputs import MiniCPMVInputs

    inp = MiniCPMVInputs(tiny_minicpmv_dir)
    inp.query_num = 96  # the release's
    assert len(inp.tokenizer.encode("\n", add_special_tokens=False)) == 1
    return inp


def _header(role):
    return f"<|start_header_id|>{role}<|end_header_id|>\n\n"


def test_scoring_and_round1_templates(inputs):
    img = _img(448, 896)  # 1x2 grid
    ph = IMG + "<slice>" + IMG + "\n" + IMG + "</slice>"
    tok = inputs.tokenizer
    enc = inputs.encode(img, [("user", " rate this "), ("assistant", " it is sharp \n"), ("user", "how good?")],
                        9, 4096, generation_prompt=False)
    # the placeholder and "\n" go before the raw text and the template trims the whole content, so the
    # text's leading space stays (as in the reference) while its trailing one goes
    text = ("<|begin_of_text|>" + _header("user") + ph + "\n rate this<|eot_id|>" + _header("assistant")
            + "it is sharp<|eot_id|>" + _header("user") + "how good?<|eot_id|>")
    assert enc.ids == tok.encode(text, add_special_tokens=False)
    im_start, im_end = tok.convert_tokens_to_ids("<image>"), tok.convert_tokens_to_ids("</image>")
    starts = [i for i, t in enumerate(enc.ids) if t == im_start]
    assert enc.bounds == [(s + 1, s + 97) for s in starts] and len(starts) == 3
    assert all(enc.ids[e] == im_end for _, e in enc.bounds)
    r1 = inputs.encode(img, [("user", "describe")], 9, 4096, generation_prompt=True)
    assert r1.ids == tok.encode("<|begin_of_text|>" + _header("user") + ph + "\ndescribe<|eot_id|>"
                                + _header("assistant"), add_special_tokens=False)


def test_tail_truncation_at_512_cuts_every_text_token_of_a_1024_image(inputs):
    """1024x1024 at 512 / 9 slices: [3,2] grid (3 columns, 2 rows), 7 images x 98 + <slice></slice> + 1
    newline = 689 image tokens after the prefix (5 tokens with Llama-3's tokenizer): all text is cut."""
    tok = inputs.tokenizer
    prefix = tok.encode("<|begin_of_text|>" + _header("user"), add_special_tokens=False)
    enc = inputs.encode(_img(1024, 1024), [("user", "rate"), ("assistant", "fine"), ("user", "score?")], 9, 512,
                        generation_prompt=False)
    assert len(enc.ids) == 512 and enc.grid == (3, 2) and len(enc.images) == 7
    p = len(prefix)
    assert enc.ids[:p] == prefix
    # source at p, <slice> at p+98, row 1 at p+99, p+197, p+295, "\n" at p+393, row 2 at p+394, p+492,
    # p+590; the runs that start before 512 are kept, the one crossing 512 is cut there
    starts = [s for s in (p, p + 99, p + 197, p + 295, p + 394, p + 492, p + 590) if s < 512]
    assert enc.bounds == [(s + 1, min(s + 97, 512)) for s in starts]
    assert tok.convert_tokens_to_ids("<|eot_id|>") not in enc.ids


def test_tail_truncation_at_768_with_4_slices_cuts_the_conversation_tail(inputs):
    """1024x1024 at 768 / 4 slices (the 20K head): [2,2] grid -> 5 x 98 + 2 + 1 = 493 image tokens;
    a long description pushes the conversation past 768 and the tail (the question) is cut."""
    tok = inputs.tokenizer
    desc = "the image is sharp and clear with good detail " * 60
    msgs = [("user", "rate"), ("assistant", desc), ("user", "how good is the quality?")]
    enc = inputs.encode(_img(1024, 1024), msgs, 4, 768, generation_prompt=False)
    ph = IMG + "<slice>" + IMG + IMG + "\n" + IMG + IMG + "</slice>"
    full = tok.encode("<|begin_of_text|>" + _header("user") + ph + "\nrate<|eot_id|>" + _header("assistant")
                      + desc.strip() + "<|eot_id|>" + _header("user") + "how good is the quality?<|eot_id|>",
                      add_special_tokens=False)
    assert len(full) > 768
    assert enc.ids == full[:768] and enc.grid == (2, 2) and len(enc.bounds) == 5


def test_vllm_prompt_ids_expand_to_the_hf_ids_and_never_cut_an_image(inputs):
    """The vllm engine sends the ids with each image collapsed to vLLM's `(<image>./</image>)`: expanded back
    with the same placeholder they must be `encode`'s ids, tail truncation included."""
    from agiqa.engines.minicpmv.slicing import choose_grid, image_placeholder

    pattern = "(<image>./</image>)"
    tok = inputs.tokenizer
    pat = tok.encode(pattern, add_special_tokens=False)
    msgs = [("user", " rate this "), ("assistant", " it is sharp and well lit \n"), ("user", "how good?")]
    for (w, h), slices, max_length in [((448, 896), 9, 4096), ((1400, 1000), 4, 768), ((1400, 1000), 9, 700),
                                       ((300, 200), 9, 110)]:
        img = _img(w, h)
        ids = inputs.pattern_ids(img.size, msgs, slices, max_length, False, pattern)
        at = next(i for i in range(len(ids)) if ids[i : i + len(pat)] == pat)
        ph = tok.encode(image_placeholder(choose_grid(img.size, inputs.slice_config(slices)), inputs.query_num),
                        add_special_tokens=False)
        assert ids[:at] + ph + ids[at + len(pat):] == inputs.encode(img, msgs, slices, max_length, False).ids
    with pytest.raises(ValueError, match="cuts into the image"):
        inputs.pattern_ids((1400, 1000), msgs, 9, 300, False, pattern)
