"""ClipAgiqaMethod: one frozen CLIP shared by every aspect's head behind `ScoringMethod`.

Per batch: one image forward for all aspects (and one prompt forward when a head reads the
prompt), then each head's regressor. The heads' category text features do not depend on the
image: they are computed once in `setup`, not per batch. Images are resized, cropped and
normalised by `preprocess` on the stage's I/O thread, so the engine thread only runs the network.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from agiqa.aspects import MOS_SPEC
from agiqa.methods.digest import folder_digest
from agiqa.resources import Resources


class ClipAgiqaMethod:
    name = "clip-agiqa"
    spec = MOS_SPEC

    def __init__(self, cfg, aspects: tuple[str, ...]):
        from agiqa.model.clip.head import CONFIG_NAME

        self.cfg = cfg
        self.aspects = tuple(aspects)
        self.resources = Resources(num_gpus=cfg.num_gpus, num_cpus=cfg.num_cpus)
        uses_prompt = {}
        for a in self.aspects:
            path = Path(cfg.heads_dir) / a / CONFIG_NAME
            uses_prompt[a] = path.is_file() and bool(json.loads(path.read_text()).get("use_prompt"))
        #: Aspects whose head reads the generation prompt (a row without one gets them null).
        self.prompt_aspects = tuple(a for a in self.aspects if uses_prompt[a])
        self.backbone = None
        self.heads: dict = {}
        self.text_features: dict = {}
        self.times = {"clip": 0.0, "head": 0.0}

    def identity(self) -> dict:
        return {"method": self.name, "clip": folder_digest(self.cfg.model),
                "heads": {a: folder_digest(Path(self.cfg.heads_dir) / a, recursive=True) for a in self.aspects},
                "dtype": self.cfg.dtype}

    def extra_fields(self):
        return []

    def setup(self) -> None:
        import torch

        from agiqa.model.clip.backbone import ClipBackbone
        from agiqa.model.clip.head import ClipAgiqaHead

        device = ("cuda" if torch.cuda.is_available() else "cpu") if self.cfg.device == "auto" else self.cfg.device
        if self.cfg.dtype == "auto":
            dtype = torch.float16 if device.startswith("cuda") else torch.float32
        else:
            dtype = getattr(torch, self.cfg.dtype)
        if device == "cpu":  # oversubscribed OpenMP threads spin against the I/O thread (config.cpu_threads)
            torch.set_num_threads(self.cfg.cpu_threads or max(1, int(self.cfg.num_cpus)))
        self.backbone = ClipBackbone(self.cfg.model, device=device, dtype=dtype)
        with torch.no_grad():
            for a in self.aspects:
                head = ClipAgiqaHead.load(Path(self.cfg.heads_dir) / a, self.backbone)
                self.heads[a] = head
                self.text_features[a] = head.text_features(self.backbone)  # once, not per batch

    def preprocess(self, image):
        """Stage I/O thread: one decoded RGB image -> CLIP pixel values (resize, crop, normalise)."""
        return self.backbone.preprocess(image)

    def score(self, pixels: list, prompts: list[str]):
        import numpy as np
        import torch

        from agiqa.methods.base import MethodOutput

        scores: dict[str, list[float]] = {a: [] for a in self.aspects}
        bs = self.cfg.batch_size
        for s in range(0, len(pixels), bs):
            t0 = time.perf_counter()
            feats = self.backbone.image_features(np.stack(pixels[s:s + bs]))
            prompt_feats = self.backbone.prompt_features(prompts[s:s + bs]) if self.prompt_aspects else None
            t1 = time.perf_counter()
            with torch.no_grad():
                for a in self.aspects:
                    out = self.heads[a](feats, self.text_features[a], prompt_feats)
                    scores[a] += out.float().cpu().tolist()
            self.times["clip"] += t1 - t0
            self.times["head"] += time.perf_counter() - t1
        return MethodOutput(scores=scores)

    def teardown(self) -> None:
        import gc

        self.backbone, self.heads, self.text_features = None, {}, {}
        gc.collect()
