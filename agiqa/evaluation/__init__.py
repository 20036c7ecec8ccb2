"""Evaluation: correlation metrics (`metrics.py`) and per-aspect evaluation of scored rows (`evaluate.py`)."""
