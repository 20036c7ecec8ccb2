"""ClipAgiqaMethod: one frozen CLIP shared by every aspect's head behind `ScoringMethod`.

Per batch: one image forward for all aspects (and a prompt forward for the prompts not seen before,
when a head reads the prompt), then each head's regressor. The heads' category text features do not
depend on the image: they are computed once in `setup`, not per batch; a prompt's features are
computed once per job (`PromptFeatureCache`). Images are resized, cropped and normalised by
`preprocess` on the stage's prepare pool, so the engine thread only runs the network.

On a GPU `score` is a coroutine: it stacks a batch into a pinned host buffer, copies it without
blocking, launches the network and gives the event loop back until the device is done, so the next
batch is stacked and copied while this one computes (the runner keeps several in flight).

Scale: the paper's regressor (wzczc/CLIP-AGIQA) is a plain `Linear` trained with MSE on raw MOS and never
clamped; its code only computes correlations, where a raw value is harmless. agiqa's users read a 0-5
score with a rating word (the README's promise, M3-AGIQA's clamped scale), filter on thresholds and rank
prefilters, so by default the output is clamped to the declared 0-5 range (`ScoreSpec` bounded), like
M3-AGIQA's `clamp: true`. `clamp: false` keeps the raw output and declares the spec unbounded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from agiqa.aspects import MOS_SPEC
from agiqa.methods.base import MethodBase
from agiqa.methods.digest import folder_digest
from agiqa.resources import Resources


class ClipAgiqaMethod(MethodBase):
    name = "clip-agiqa"
    #: A quarter GPU per actor on GPU clusters (four cheap scorers share one); one CPU (decoding is the CPU floor).
    resources = Resources(num_gpus=0.25, num_cpus=1.0)

    def __init__(self, cfg, aspects: tuple[str, ...]):
        from agiqa.model.clip.head import CONFIG_NAME

        self.cfg = cfg
        self.aspects = tuple(aspects)
        #: 0-5; bounded when clamped (the default), else only the nominal scale of the rating words.
        self.spec = MOS_SPEC if cfg.clamp else MOS_SPEC.unbounded()
        uses_prompt = {}
        for a in self.aspects:
            path = Path(cfg.heads_dir) / a / CONFIG_NAME
            uses_prompt[a] = path.is_file() and bool(json.loads(path.read_text()).get("use_prompt"))
        #: Aspects whose head reads the generation prompt (a row without one gets them null).
        self.prompt_aspects = tuple(a for a in self.aspects if uses_prompt[a])
        self.backbone = None
        self.heads: dict = {}
        self.text_features: dict = {}
        self.prompt_cache = None
        self.pinned = None
        self.times = {"clip": 0.0, "head": 0.0}

    def identity(self) -> dict:
        return {"method": self.name, "clip": folder_digest(self.cfg.model),
                "heads": {a: folder_digest(Path(self.cfg.heads_dir) / a, recursive=True) for a in self.aspects},
                "dtype": self.cfg.dtype, "clamp": self.cfg.clamp}

    def setup(self) -> None:
        import torch

        from agiqa.methods.clip.batching import PinnedBuffers, PromptFeatureCache
        from agiqa.model.clip.backbone import ClipBackbone
        from agiqa.model.clip.head import ClipAgiqaHead

        device = ("cuda" if torch.cuda.is_available() else "cpu") if self.cfg.device == "auto" else self.cfg.device
        if self.cfg.dtype == "auto":
            dtype = torch.float16 if device.startswith("cuda") else torch.float32
        else:
            dtype = getattr(torch, self.cfg.dtype)
        if device == "cpu":  # oversubscribed OpenMP threads spin against the prepare pool (config.cpu_threads)
            torch.set_num_threads(self.cfg.cpu_threads or max(1, int(self.resources.num_cpus) // 2))
        self.backbone = ClipBackbone(self.cfg.model, device=device, dtype=dtype)
        with torch.no_grad():
            for a in self.aspects:
                head = ClipAgiqaHead.load(Path(self.cfg.heads_dir) / a, self.backbone)
                self.heads[a] = head
                self.text_features[a] = head.text_features(self.backbone)  # once, not per batch
        self.prompt_cache = PromptFeatureCache(self.backbone.prompt_features, self.cfg.prompt_cache_size)
        self.pinned = PinnedBuffers() if self.backbone.device.type == "cuda" else None

    def preprocess(self, image):
        """Prepare pool: one decoded RGB image -> CLIP pixel values (resize, crop, normalise)."""
        return self.backbone.preprocess(image)

    def score(self, pixels: list, prompts: list[str], columns: dict | None = None):
        """On CPU a plain call (run on the engine's compute thread, with its torch threads); on a GPU a
        coroutine that gives the event loop back while the device computes."""
        if self.pinned is None:
            return self._collect([self._launch(pixels[s:s + self.cfg.batch_size],
                                               prompts[s:s + self.cfg.batch_size])[0]
                                  for s in range(0, len(pixels), self.cfg.batch_size)])
        return self._score_on_gpu(pixels, prompts)

    async def _score_on_gpu(self, pixels: list, prompts: list[str]):
        import asyncio

        import torch

        done = []
        for s in range(0, len(pixels), self.cfg.batch_size):
            out, host = self._launch(pixels[s:s + self.cfg.batch_size], prompts[s:s + self.cfg.batch_size])
            result = out.to("cpu", non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            while not event.query():  # meanwhile the loop stacks and copies the next batch
                await asyncio.sleep(0.0005)
            self.pinned.give_back(host)
            done.append(result)
        return self._collect(done)

    def _launch(self, pixels: list, prompts: list[str]):
        """One CLIP batch started: pixels stacked (on a GPU into pinned memory, copied without blocking),
        the image tower, the prompts' features (cached), every head. -> ([aspects, B] scores, pinned buffer)."""
        import numpy as np
        import torch

        t0 = time.perf_counter()
        with torch.no_grad():
            if self.pinned is not None:
                host = self.pinned.take((len(pixels), *pixels[0].shape), torch.from_numpy(pixels[0]).dtype)
                np.stack(pixels, out=host.numpy())
                x = host.to(self.backbone.device, non_blocking=True)  # uint8: normalised on the device
            else:
                host, x = None, np.stack(pixels)
            feats = self.backbone.image_features(x)
            prompt_feats = self.prompt_cache.features(prompts) if self.prompt_aspects else None
            t1 = time.perf_counter()
            out = torch.stack([self.heads[a](feats, self.text_features[a], prompt_feats).float()
                               for a in self.aspects])
            if self.cfg.clamp:
                out = out.clamp(self.spec.low, self.spec.high)
        self.times["clip"] += t1 - t0
        self.times["head"] += time.perf_counter() - t1
        return out, host

    def _collect(self, parts: list):
        from agiqa.methods.base import MethodOutput

        scores: dict[str, list[float]] = {a: [] for a in self.aspects}
        for out in parts:  # [aspects, B] each
            for a, values in zip(self.aspects, out.tolist(), strict=True):
                scores[a] += values
        return MethodOutput(scores=scores)

    def teardown(self) -> None:
        import gc

        self.backbone, self.heads, self.text_features = None, {}, {}
        self.prompt_cache = self.pinned = None
        gc.collect()
