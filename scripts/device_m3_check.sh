#!/usr/bin/env bash
# M3-AGIQA at real sizes on a lent GPU machine. Make the two device calls of ../shared/gpu/README.md
# (build the kit once: ../shared/gpu/make-vllm-kit.sh .gpuwheels/vllm; it carries vLLM 0.26, pydantic and
# xlstm for torch 2.11), with this as call 2's BENCHMARK:
#   run command: "python3 .gpuwheels/vllm/unpack.py && export PYTHONPATH=/tmp/site:$PYTHONPATH \
#                 VLLM_USE_FLASHINFER_SAMPLER=0 HF_HUB_OFFLINE=1 && bash scripts/device_m3_check.sh"
#       carry: [".gpuwheels/vllm/p2", ".gpuwheels/vllm/unpack.py"]   timeout_s 540
# Budget (15 min of device time in all): the 8B random build ~2 min, each run ~1-3 min.
# Results: $OUT/m3_gpu.jsonl (one JSON line per run, then its summary line). Give the machine back after.
set -u
OUT=${OUT:-/tmp/agiqa-device-out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD:${PYTHONPATH:-}
# agiqa is not pip-installed there, so vLLM's processes would not find its `vllm.general_plugins` entry
# point (MiniCPM-V 2.5's registration) when vLLM spawns them: a dist-info folder on PYTHONPATH declares it.
EP=$(mktemp -d)/agiqa_device-0.dist-info
mkdir -p "$EP"
printf 'Metadata-Version: 2.1\nName: agiqa-device\nVersion: 0\n' > "$EP/METADATA"
sed -n '/^\[project.entry-points."vllm.general_plugins"\]/,/^$/p' pyproject.toml | sed -e 's/^\[project.entry-points."\(.*\)"\]/[\1]/' -e 's/"//g' > "$EP/entry_points.txt"
export PYTHONPATH=$(dirname "$EP"):$PYTHONPATH
python3 -c "from importlib.metadata import entry_points as e; [p.load() for p in e(group='vllm.general_plugins') if p.name == 'agiqa_minicpmv'] or exit('agiqa entry point not visible'); print('agiqa vLLM plugin entry point loads')"
nvidia-smi -L
b() { timeout "$1" python3 -m bench.bench_gpu_engine "${@:2}" 2>&1 | grep -E '^\{|^built|of the floor|^bench_gpu_engine:|Error' | tee -a "$OUT/m3_gpu.jsonl"; }
# The targets: vLLM at MiniCPM-V-2.5 shape, 512 px, greedy (>= 40% of the floor) ...
b 300 --preset minicpmv25-8b --engine vllm --image-size 512 --beams 1 --rows 96 --max-new-tokens 128
# ... and the hf engine at Qwen2-VL-2B shape (>= 25 rows/s; 3.95 before).
b 200 --preset qwen2vl-2b --engine hf --batch-size 64 --rows 192 --max-new-tokens 128
b 200 --preset qwen2vl-2b --engine hf --batch-size 64 --rows 192 --max-new-tokens 128 --static-cache
