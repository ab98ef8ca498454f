#!/usr/bin/env bash
# Distributed sweep scaling on this machine: a quantization sweep of the zoo MobileNetV2 (fixed
# point, weights and activations, 2 widths, on LIMIT val images) run by `shrink launch -n N` for
# N = 1, 2, 4 processes, each process with one LibTorch thread and one worker, so that the
# processes are the only parallelism; plus one process with all cores as in-process workers
# (the single-machine default) for reference. Checks that every run gives the same records and
# prints JSON with points per second and the speedup over one process. docs/scaling.md.
#   bench/dist_sweep.sh            LIMIT=200 BITS=4,8 PROCS="1 2 4" by default
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT=${LIMIT:-200}
BITS=${BITS:-4,8}
PROCS=${PROCS:-"1 2 4"}
B=${B:-build/bin}
out=bench/out/dist
mkdir -p "$out"
model="$out/mobilenetv2.h5"
# The zoo MobileNetV2 after a short training (the cost of a point does not depend on accuracy).
[[ -f "$model" ]] || $B/shrink train --model mobilenetv2 --data fashion-mnist --epochs 1 --train-limit 512 --seed 1 \
  -o "$model" > "$out/train.log" 2>&1

sweep_args=(--data fashion-mnist --methods fixed --bits "$BITS" --limit "$LIMIT" --calibration "$LIMIT")
times=()
for n in $PROCS; do
  rm -rf "$out/sweep-$n"
  t0=$(date +%s.%N)
  $B/shrink launch -n "$n" -- sweep "$model" "${sweep_args[@]}" --threads 1 --workers 1 -o "$out/sweep-$n" \
    > "$out/sweep-$n.log" 2>&1
  t1=$(date +%s.%N)
  times+=("$n:$t0:$t1")
done
rm -rf "$out/sweep-workers"
t0=$(date +%s.%N)
$B/shrink sweep "$model" "${sweep_args[@]}" -o "$out/sweep-workers" > "$out/sweep-workers.log" 2>&1
t1=$(date +%s.%N)

/usr/bin/python3 - "$out" "$(nproc)" "w:$t0:$t1" "${times[@]}" <<'PY'
import json, sys
out, cores = sys.argv[1], int(sys.argv[2])
def load(name):
    recs = json.load(open(f"{out}/sweep-{name}/report.json"))["sensitivity"]
    for r in recs:
        r.pop("seconds")
    return recs
runs = {}
for arg in sys.argv[3:]:
    n, a, b = arg.split(":")
    runs[n] = float(b) - float(a)
ref = load("1")
points = len(ref)
per_point = json.load(open(f"{out}/sweep-1/report.json"))["sensitivity"]
per_point = sum(r["seconds"] for r in per_point) / points
res = {"benchmark": "dist_sweep_mobilenetv2", "cores": cores, "points": points,
       "images": json.load(open(f"{out}/sweep-1/report.json"))["images"],
       "seconds_per_point_1_process": round(per_point, 4), "runs": []}
for n, secs in runs.items():
    name = "workers" if n == "w" else n
    res["runs"].append({
        "processes": 1 if n == "w" else int(n),
        "workers_per_process": cores if n == "w" else 1,
        "seconds": round(secs, 2),
        "points_per_second": round(points / secs, 3),
        "speedup_over_1_process": round(runs["1"] / secs, 2),
        "same_records": load(name) == ref,
    })
print(json.dumps(res, indent=2))
PY
