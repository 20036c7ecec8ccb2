"""Selecting rows by their scores: the rules a filter applies (`rules.py`) and how one batch is decided
(`decide.py`). Pure pyarrow/numpy; the job around it is `agiqa.workflows.filter`."""
