"""The audit report: per-group statistics of scored outputs, merged shard by shard in bounded memory
(`stats.py`, `collect.py`), figures (`figures.py`, matplotlib, optional) and a self-contained HTML
page (`html.py`). The job around it is `agiqa.workflows.audit`."""
