"""Running a job over many shards: in one process (`local.py`) or on Ray (`ray_driver.py`).

`run.run_job(cfg)` picks one. Importing this package imports no Ray.
"""
