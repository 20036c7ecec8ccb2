"""`runner.kind: ray-data`: a pass's shards as the rows of a Ray Data dataset, one shard per row, run
by a `map_batches` actor pool (`task.ShardTask`) through the same `ShardStreamer` as the other
runners; the driver (`driver.run_on_ray_data`) keeps the attempts, the retries and the summary.
Nothing here imports Ray at module level."""
