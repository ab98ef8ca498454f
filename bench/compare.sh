#!/usr/bin/env bash
# shrink-rt against ONNX Runtime and LibTorch, batch 1, one thread, all measured in this run:
#
#   bench/compare.sh [--iters N] [--repeats R] [--models "lenet5 lenet300 mobilenetv2 resnet8"]
#
# For each zoo model (trained 1 epoch on 2,000 Fashion-MNIST images, so quantization has real
# ranges): shrink-rt fp32 / int16 / int8 / sparse-int8 (90% of every layer's weights zeroed by
# magnitude, then int8), ONNX Runtime fp32 and int8 (the QDQ export of the same int8 model)
# through npm onnxruntime-node with the binding's per-call overhead (an Identity model of the same
# input shape) subtracted, and LibTorch fp32 (the executor of `shrink infer`). Prints a table on
# stderr and one JSON document on stdout; models and raw outputs stay in bench/out/compare/.
# Every engine is timed in R rounds (default 3), interleaved, and its lowest median is kept: on a
# shared machine single medians vary by up to 1.5x. Ratios: time / peer time (below 1.0:
# shrink-rt is faster).
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=300
REPEATS=3
MODELS="lenet5 lenet300 mobilenetv2 resnet8"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --iters) ITERS="$2"; shift 2 ;;
    --models) MODELS="$2"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
BIN=${BUILD:-build}/bin
NODE_MODULES=$PWD/.deps/node/node_modules
PY=/usr/bin/python3
OUT=bench/out/compare
mkdir -p "$OUT"
export OMP_WAIT_POLICY=PASSIVE
for tool in "$BIN/shrink" "$BIN/shrink-rt" "$BIN/shrink_bench_tool"; do
  [[ -x $tool ]] || { echo "compare.sh: $tool missing (run make build first)" >&2; exit 2; }
done
[[ -d $NODE_MODULES/onnxruntime-node ]] || { echo "compare.sh: onnxruntime-node missing (run make deps)" >&2; exit 2; }

quiet() { "$@" > "$OUT/last.log" 2>&1 || { cat "$OUT/last.log" >&2; exit 1; }; }

results="$OUT/results.jsonl"
: > "$results"
for m in $MODELS; do
  d=$OUT/$m
  mkdir -p "$d"
  echo "compare: $m: preparing models" >&2
  if [[ ! -f $d/fp32.h5 ]]; then
    quiet "$BIN/shrink" train --model "$m" --data fashion-mnist --epochs 1 --train-limit 2000 --threads 2 -o "$d/fp32.h5"
  fi
  [[ -f $d/sparse.h5 ]] || quiet "$BIN/shrink_bench_tool" sparsify "$d/fp32.h5" 0.9 "$d/sparse.h5"
  for v in int8:fp32:8 int16:fp32:16 sparse-int8:sparse:8; do
    IFS=: read -r name src bits <<< "$v"
    [[ -f $d/$name.h5 ]] || quiet "$BIN/shrink" quantize "$d/$src.h5" --data fashion-mnist --scheme fixed --bits "$bits" \
      --calibration 500 --limit 500 --threads 2 -o "$d/$name.h5"
  done
  for name in fp32 int16 int8 sparse-int8; do
    quiet "$BIN/shrink" export "$d/$name.h5" --format shr -o "$d/$name.shr"
  done
  quiet "$BIN/shrink" export "$d/fp32.h5" --format onnx -o "$d/fp32.onnx"
  quiet "$BIN/shrink" export "$d/int8.h5" --format onnx -o "$d/int8-qdq.onnx"
  shape=$("$BIN/shrink-rt" inspect "$d/fp32.shr" | sed -n 's/^input \[\([0-9, ]*\)\].*/\1/p' | tr -d ' ')
  quiet "$PY" bench/peers/make_identity.py "$shape" "$d/identity.onnx"

  echo "compare: $m: timing (input $shape, $ITERS iterations each, best of $REPEATS rounds)" >&2
  for round in $(seq "$REPEATS"); do
  for name in fp32 int16 int8 sparse-int8; do
    t=$("$BIN/shrink-rt" bench "$d/$name.shr" --iters "$ITERS" --threads 1 --json)
    echo "{\"model\": \"$m\", \"engine\": \"shrink-rt\", \"variant\": \"$name\", \"file_bytes\": $(stat -c %s "$d/$name.shr"), \"result\": $t}" >> "$results"
  done
  for v in identity:identity fp32:fp32 int8:int8-qdq; do
    IFS=: read -r name file <<< "$v"
    t=$(node bench/peers/ort_bench.js "$d/$file.onnx" "$shape" "$ITERS" "$NODE_MODULES")
    echo "{\"model\": \"$m\", \"engine\": \"onnxruntime\", \"variant\": \"$name\", \"file_bytes\": $(stat -c %s "$d/$file.onnx"), \"result\": $t}" >> "$results"
  done
  t=$("$BIN/shrink_bench_tool" torch "$d/fp32.h5" --iters "$ITERS")
  echo "{\"model\": \"$m\", \"engine\": \"libtorch\", \"variant\": \"fp32\", \"file_bytes\": $(stat -c %s "$d/fp32.h5"), \"result\": $t}" >> "$results"
  done
done
"$PY" bench/peers/compare_table.py "$results"
