#!/usr/bin/env bash
# The full default quantization sweep of LeNet-5 (4 layers x weights/activations x fixed
# 2,4,6,8,12,16 and kmeans 1,2,3,4,5,6,8 = 104 points) on the val split: wall time with the
# activation cache (the default) and without it (--no-cache), both with all cores as workers,
# and with the cache on one worker. Prints JSON with the times and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT=${LIMIT:--1}
THREADS=${THREADS:-$(nproc)}
out=bench/out
mkdir -p "$out"
B=build/bin
model="$out/lenet5-2ep.h5"
[[ -f "$model" ]] || $B/shrink train --model lenet5 --data fashion-mnist --epochs 2 --seed 1 --threads "$THREADS" \
  -o "$model" > "$out/sweep_train.log" 2>&1

run() {  # name, extra flags
  local t0 t1
  rm -rf "$out/sweep-$1"
  t0=$(date +%s.%N)
  $B/shrink sweep "$model" --data fashion-mnist --limit "$LIMIT" --threads "$THREADS" "${@:2}" -o "$out/sweep-$1" \
    > "$out/sweep-$1.log" 2>&1
  t1=$(date +%s.%N)
  echo "$t0 $t1"
}
cached=$(run cached)
nocache=$(run nocache --no-cache)
single=$(run cached-1worker --workers 1)

/usr/bin/python3 - "$THREADS" "$cached" "$nocache" "$single" "$out" <<'PY'
import json, sys
threads = int(sys.argv[1])
def secs(s):
    a, b = map(float, s.split())
    return round(b - a, 2)
c, n, s1 = secs(sys.argv[2]), secs(sys.argv[3]), secs(sys.argv[4])
rep = json.load(open(sys.argv[5] + "/sweep-cached/report.json"))
ref = json.load(open(sys.argv[5] + "/sweep-nocache/report.json"))
same = all(a["accuracy"] == b["accuracy"] for a, b in zip(rep["sensitivity"], ref["sensitivity"]))
points = len(rep["sensitivity"])
print(json.dumps({
    "benchmark": "sweep_lenet5_default",
    "points": points,
    "images": rep["images"],
    "workers": threads,
    "seconds_cached": c,
    "seconds_no_cache": n,
    "seconds_cached_1_worker": s1,
    "seconds_per_point_cached": round(c / points, 3),
    "ratio_no_cache_over_cached": round(n / c, 2),
    "ratio_1_worker_over_workers": round(s1 / c, 2),
    "same_records_with_and_without_cache": same,
}, indent=2))
PY
