#!/usr/bin/env bash
# CLIP-AGIQA on a lent GPU machine, in one device call: the GPU tests, then bench_clip_gpu.
#
# The GPU image has torch, transformers and pyarrow but not pydantic. Once, on the CPU machine:
#   .venv/bin/pip download --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 --no-deps \
#       -d .gpuwheels/pydantic pydantic pydantic-core annotated-types typing-inspection typing-extensions
# (.gpuwheels/ is git-ignored; 2.8 MiB.)
# Then (device tool): run command "bash scripts/device_clip_check.sh", carry [".gpuwheels/pydantic"],
# timeout_s 540; results land in $OUT/clip_gpu.jsonl. Give the machine back afterwards.
set -u
OUT=${OUT:-/tmp/agiqa-device-out}
mkdir -p "$OUT" /tmp/agiqa-site
python3 -m pip install -q --no-index --no-deps --target /tmp/agiqa-site .gpuwheels/pydantic/*.whl
export PYTHONPATH=/tmp/agiqa-site:$PWD HF_HUB_OFFLINE=1
nvidia-smi -L
if python3 -c "import pytest" 2>/dev/null; then
  timeout 240 python3 -m pytest -q -p no:cacheprovider -m gpu tests/methods/clip 2>&1 | tail -5 | tee "$OUT/gpu_tests.txt"
fi
timeout 420 python3 -m bench.bench_clip_gpu --cpus "$(nproc)" --before 2>&1 | tee "$OUT/clip_gpu.jsonl"
