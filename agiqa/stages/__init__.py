"""Per-batch work with declared columns, outputs and resources: what the runner runs over shards."""
