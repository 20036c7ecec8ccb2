"""Test material, never imported by production code (a test checks the import direction).

    fakes.py            FakeMethod: a cheap, deterministic scoring method for runner tests and benchmarks
    faults.py           stores that fail on purpose (a process that dies right after a commit)

The tiny model builders are demo material and live in `agiqa.demo_models`.
"""
