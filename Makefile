# The two commands users need: `make demo` and `make test`. Both install what they need first
# (into .venv, via scripts/install.sh; a second run with nothing changed returns in seconds).
SHELL := /bin/bash
PY := .venv/bin/python
DEMO := demo-output

.PHONY: install demo test test-fast lint bench clean

install:
	@bash scripts/install.sh

# Build a tiny model and a procedural dataset with known MOS, score it on a local Ray, print a summary.
demo: install
	@$(PY) -m agiqa.demo --workdir $(DEMO)

# The whole test suite (what .ci/run calls). No GPU, no network: tiny models, a real local Ray,
# a real local S3 server (SeaweedFS), vLLM's CPU build.
test: install
	@$(PY) -m pytest -q -p no:cacheprovider --timeout=900 --durations=15 tests

test-fast: install
	@$(PY) -m pytest -q -x -m 'not slow' tests/runner tests/config tests/test_layering.py tests/stages tests/methods

lint: install
	@.venv/bin/ruff check agiqa tests bench jobs scripts

bench: install
	@$(PY) bench/bench_fold.py
	@$(PY) bench/bench_batching.py
	@$(PY) bench/bench_runner.py

clean:
	rm -rf $(DEMO) .pytest_cache .ruff_cache
