"""One CLIP-AGIQA head per aspect: the prompt learner and the regressor, saved as safetensors + JSON.

The regressor is the paper's: `Dropout(0.5) -> Linear(7D, 512) -> ReLU -> Dropout(0.5) -> Linear(512, 1)`
over the L2-normalised image feature concatenated with the six category text features (fp32).

`use_prompt` is agiqa's extension for correspondence, which the paper cannot judge (it never sees
the generation prompt): the prompt's CLIP text feature enters as the element-wise product with the
image feature (D values) and their cosine similarity (CLIPScore's quantity), appended to the
paper's input. docs/clip-agiqa.md measures it against the image-only head.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from agiqa.model.clip.prompt_learner import CATEGORIES, PromptLearner

CONFIG_NAME = "clip_head_config.json"
WEIGHTS_NAME = "clip_head.safetensors"


@dataclass
class ClipHeadConfig:
    feature_dim: int  # CLIP's projection dim (512 for ViT-B/16)
    text_width: int  # CLIP's text hidden size (the context vectors' width)
    n_ctx: int = 16
    categories: list[str] = field(default_factory=lambda: list(CATEGORIES))
    hidden: int = 512
    dropout: float = 0.5
    use_prompt: bool = False
    aspect: str | None = None
    trained: bool = False
    notes: dict = field(default_factory=dict)

    @property
    def input_dim(self) -> int:
        d = self.feature_dim * (1 + len(self.categories))
        return d + (self.feature_dim + 1 if self.use_prompt else 0)


class ClipAgiqaHead(nn.Module):
    def __init__(self, config: ClipHeadConfig, backbone):
        super().__init__()
        if backbone.feature_dim != config.feature_dim or backbone.text_width != config.text_width:
            raise ValueError(f"head made for CLIP features {config.feature_dim}/{config.text_width}, the backbone "
                             f"gives {backbone.feature_dim}/{backbone.text_width}")
        self.config = config
        self.prompt_learner = PromptLearner(backbone, config.n_ctx, tuple(config.categories))
        self.regressor = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.input_dim, config.hidden),
                                       nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(config.hidden, 1))

    def text_features(self, backbone) -> torch.Tensor:
        """The six category features [C, D]; constant once trained (compute once, pass to `forward`)."""
        return self.prompt_learner(backbone)

    def forward(self, image_feats: torch.Tensor, text_feats: torch.Tensor,
                prompt_feats: torch.Tensor | None = None) -> torch.Tensor:
        """image_feats [B, D] and prompt_feats [B, D] L2-normalised, text_feats [C, D] -> scores [B]."""
        b = image_feats.shape[0]
        parts = [image_feats, text_feats.reshape(1, -1).expand(b, -1)]
        if self.config.use_prompt:
            if prompt_feats is None:
                raise ValueError("this head scores correspondence: it needs the prompts' features")
            parts += [image_feats * prompt_feats, (image_feats * prompt_feats).sum(-1, keepdim=True)]
        return self.regressor(torch.cat(parts, dim=-1).float()).squeeze(-1)

    def save(self, directory: str | Path) -> None:
        from safetensors.torch import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}, str(d / WEIGHTS_NAME))
        (d / CONFIG_NAME).write_text(json.dumps(asdict(self.config), indent=2) + "\n")

    @classmethod
    def load(cls, directory: str | Path, backbone) -> ClipAgiqaHead:
        from safetensors.torch import load_file

        d = Path(directory)
        head = cls(ClipHeadConfig(**json.loads((d / CONFIG_NAME).read_text())), backbone)
        head.load_state_dict(load_file(str(d / WEIGHTS_NAME)))
        return head.to(backbone.device).eval()


def is_head_folder(path: str | Path) -> bool:
    return (Path(path) / CONFIG_NAME).is_file() and (Path(path) / WEIGHTS_NAME).is_file()


def read_head_config(path: str | Path) -> ClipHeadConfig:
    return ClipHeadConfig(**json.loads((Path(path) / CONFIG_NAME).read_text()))
