#!/usr/bin/env bash
# The GPU benchmarks of issue 19 in one go, about 4 minutes on an H100/H200-class GPU.
#
#   bash stconv_lite/analysis/gpu_bench.sh OUT          # on the GPU machine, from the repository root
#   bash stconv_lite/analysis/gpu_bench.sh OUT tiny     # smoke test on a CPU: tiny shapes, seconds
#
# Writes run files (JSON with run cards: GPU name, date, commit, torch version, shapes) and the
# console output of every step into OUT. Copy the JSON files into book/benchmarks/ to show them on
# the benchmarks page (book/benchmarks.md picks up ops_*.json and conv3t_*.json by themselves).
# Every step has its own time limit, so one slow step (e.g. torch.compile) cannot eat the others'
# time; a step that fails or times out is reported and the script goes on.
set -u
OUT=${1:?usage: gpu_bench.sh OUT [tiny]}
MODE=${2:-gpu}
mkdir -p "$OUT"
cd "$(dirname "$0")/../.." || exit 1

if [ "$MODE" = tiny ]; then
  DEVICE=cpu; SLUG=tiny-cpu
  OPS=(--shape 2 16 4 8 8 --repeats 2 --warmup 1)
  C3T=(--cases tiny --repeats 2 --warmup 1 --model-clip 2 3 8 32 32)
  TADA=(--repeats 2 --no-loop --tiny)
  LIMIT_SCALE=4  # a CPU is slow; the limits only guard against hangs here
else
  DEVICE=cuda
  SLUG=$(python -c "from stconv_lite.analysis.bench_common import machine_slug; print(machine_slug('cuda'))") || exit 1
  OPS=(--repeats 20)
  C3T=(--repeats 10)
  TADA=(--repeats 10 --no-loop)
  LIMIT_SCALE=1
fi

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log to OUT/NAME.log
  local name=$1 limit=$(( $2 * LIMIT_SCALE )); shift 2
  local began=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local status=$?
  echo "$name: exit $status after $(( SECONDS - began )) s (limit $limit s)$([ $status = 124 ] && echo ', TIMED OUT')"
}

echo "gpu_bench: device $DEVICE, machine $SLUG, output $OUT"
# every operator on one shape (8x64x16x56x56 on a GPU), standard layout and channels-last 3D
step ops 35 python -m stconv_lite.analysis.bench --device "$DEVICE" "${OPS[@]}" --out "$OUT/ops_$SLUG.json"
step ops_channels_last 35 python -m stconv_lite.analysis.bench --device "$DEVICE" "${OPS[@]}" --channels-last \
  --out "$OUT/ops_${SLUG}_channels_last.json"
# 3TConv layers + whole 3T-ResNet18 vs 3D-ResNet18, eager kernel generation, then compiled
step conv3t 50 python -m stconv_lite.analysis.bench_conv3t --device "$DEVICE" --models "${C3T[@]}" \
  --out "$OUT/conv3t_$SLUG.json"
[ "${SKIP_COMPILED:-0}" = 1 ] || step conv3t_compiled 90 python -m stconv_lite.analysis.bench_conv3t --device "$DEVICE" --models --compile \
  "${C3T[@]}" --out "$OUT/conv3t_${SLUG}_compiled.json"
# TAdaConv + generator vs the 2D conv
step tadaconv 30 python -m stconv_lite.analysis.bench_tadaconv --device "$DEVICE" "${TADA[@]}" \
  --out "$OUT/tadaconv_$SLUG.json"
echo "gpu_bench: done in $SECONDS s; files:"
ls -l "$OUT"
