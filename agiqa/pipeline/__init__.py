"""Per-batch work, independent of Ray: decode rows, prompt the engine, run the heads, write rows."""
