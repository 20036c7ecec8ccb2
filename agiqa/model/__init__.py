"""Model math: prompts, the M3 head, reference checkpoint import (tiny models for demos live in `agiqa.demo_models`)."""
