"""Datasets, procedural learnability data, metrics, and (later) training of adapters and heads."""
