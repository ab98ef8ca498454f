#!/usr/bin/env bash
# LeNet-5 (Caffe shape) on Fashion-MNIST with the documented default schedule, 10 epochs:
# shrink's test accuracy and training time, against PyTorch (Python) training the same
# network with the same schedule in the same run. Prints JSON with the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${EPOCHS:-10}
THREADS=${THREADS:-$(nproc)}
out=bench/out
mkdir -p "$out"
B=build/bin

t0=$(date +%s.%N)
$B/shrink train --model lenet5 --data fashion-mnist --epochs "$EPOCHS" --seed 1 --threads "$THREADS" \
  -o "$out/lenet5-${EPOCHS}ep.h5" > "$out/train_lenet5.log" 2>&1
t1=$(date +%s.%N)
shrink_json=$($B/shrink eval "$out/lenet5-${EPOCHS}ep.h5" --data fashion-mnist --json)
peer_json=$(/usr/bin/python3 bench/peers/train_lenet5.py --epochs "$EPOCHS" --threads "$THREADS")

/usr/bin/python3 - "$EPOCHS" "$t0" "$t1" "$shrink_json" "$peer_json" <<'PY'
import json, sys
epochs, t0, t1 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
s, p = json.loads(sys.argv[4]), json.loads(sys.argv[5])
out = {
    "benchmark": "train_lenet5_fashion_mnist",
    "epochs": epochs,
    "shrink": {"test_accuracy": s["accuracy"], "train_seconds": round(t1 - t0, 2)},
    "pytorch_python": p,
    "ratio_train_seconds_shrink_over_pytorch": round((t1 - t0) / p["train_seconds"], 3),
    "accuracy_difference": round(s["accuracy"] - p["test_accuracy"], 4),
}
print(json.dumps(out, indent=2))
PY
