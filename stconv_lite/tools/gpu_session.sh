#!/usr/bin/env bash
# Everything the book computes on a GPU, in one command for a lent machine with a hard time limit.
#
#   bash stconv_lite/tools/gpu_session.sh OUT [EXPERIMENT_SECONDS]
#
# 1. the operator benchmarks (stconv_lite/analysis/gpu_bench.sh, each step time-limited);
# 2. every registered experiment at scale `full`, side by side (stconv_lite.tools.full_runs), each
#    with EXPERIMENT_SECONDS (default 380) before it is stopped (its finished units are kept).
# Everything is packed into OUT/gpu_session.tgz (results/*.json with run cards, benchmarks, logs),
# since the machine gives back only a few files.
set -u
OUT=${1:?usage: gpu_session.sh OUT [EXPERIMENT_SECONDS]}
LIMIT=${2:-380}
cd "$(dirname "$0")/../.." || exit 1
mkdir -p "$OUT/session" /tmp/stconv-bin
# Some images name the interpreter python3 only; the scripts call python.
command -v python >/dev/null || ln -sf "$(command -v python3)" /tmp/stconv-bin/python
export PATH=/tmp/stconv-bin:$PATH PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 STCONV_OFFLINE=1
began=$SECONDS
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; python -c "import torch; print('torch', torch.__version__)"; } \
  > "$OUT/session/machine.txt" 2>&1
SKIP_COMPILED=1 bash stconv_lite/analysis/gpu_bench.sh "$OUT/session/benchmarks" 2>&1 | tee "$OUT/session/bench.log"
python -m stconv_lite.tools.full_runs --scale full --out "$OUT/session/results" --parallel 8 \
  --timeout "$LIMIT" --threads 2 --device cuda 2>&1 | tee "$OUT/session/full_runs.log"
echo "gpu_session: $(( SECONDS - began )) s in all" | tee -a "$OUT/session/full_runs.log"
tar czf "$OUT/gpu_session.tgz" -C "$OUT" session && rm -rf "$OUT/session"
ls -l "$OUT"
