"""Model math: prompts, the M3 head, reference checkpoint import, tiny models for tests and demos."""
