#!/usr/bin/env bash
# Runs every benchmark and prints one JSON document per benchmark on stdout.
# Results (models, raw outputs) go to bench/out/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
bench/train_lenet5.sh
bench/sweep_lenet5.sh
bench/compare.sh
