#!/usr/bin/env bash
# Start a single-node Ray head on 127.0.0.1 for development, with token auth, its own temp dir.
# Prints the address to use with `agiqa score --address` / `ray job submit --address`.
# Stop it with: cluster/start-local-head.sh stop   (stops only this head, not other Rays).
set -euo pipefail
cd "$(dirname "$0")/.."
RAY=${RAY:-.venv/bin/ray}
TEMP=${AGIQA_RAY_TEMP:-/tmp/agiqa-ray-head}
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 RAY_AUTH_MODE=token
TOKEN_FILE="$TEMP.token"
if [ "${1:-start}" = stop ]; then
  pids=$(grep -l -a -- "$TEMP" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 || true)
  [ -n "$pids" ] && kill $pids 2>/dev/null || true
  echo "stopped the head under $TEMP"
  exit 0
fi
[ -s "$TOKEN_FILE" ] || python3 -c "import secrets; print(secrets.token_hex(16))" > "$TOKEN_FILE"
export RAY_AUTH_TOKEN_PATH="$TOKEN_FILE"
"$RAY" start --head --node-ip-address=127.0.0.1 --port="${AGIQA_RAY_PORT:-6379}" --dashboard-host=127.0.0.1 \
  --dashboard-port="${AGIQA_DASHBOARD_PORT:-8265}" --temp-dir="$TEMP" --disable-usage-stats
echo
echo "export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=$TOKEN_FILE"
echo "export RAY_ADDRESS=http://127.0.0.1:${AGIQA_DASHBOARD_PORT:-8265}   # for ray job submit"
echo "agiqa score --address 127.0.0.1:${AGIQA_RAY_PORT:-6379} ...          # for the driver"
