"""CLIP-AGIQA as a scoring method: `config.py` (settings, checks before any load), `method.py`."""
