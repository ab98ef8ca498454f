#!/usr/bin/env bash
# Builds the clang fuzz project (fuzz/: libFuzzer + ASan + UBSan), writes the seed corpora and
# runs the fuzzers: the .shr loader for N seconds, shrink-rt's .npy reader and the Huffman
# decoder (runtime/src/huffman.cc) for N / 2 each, the ONNX importer for N (when libonnx is
# found and /usr/bin/python3 has the onnx package for its seeds), the .h5 model reader for N / 2
# (when libhdf5 is found), the recipe parser for N / 2 (with the stages of $SHRINK_BIN, the built
# shrink, when set).
# Fails (exit 1) when a fuzzer finds a crash, a sanitizer report or a timeout; exits 77 (skipped)
# when clang++ or its libFuzzer runtime is missing.
#
#   scripts/fuzz.sh [--build DIR] [--seconds N]   # fuzz for N seconds (default 300), as `make fuzz`
#   scripts/fuzz.sh --smoke [--build DIR]          # CI: 20 s .shr + 10 s .npy + 10 s Huffman + 20 s ONNX
#                                                  # + 10 s .h5 + 10 s recipes,
#                                                  # then replays the .shr seeds, every truncation of
#                                                  # one and 3000 bit flips (about 60 s, build up to date)
# The corpora grow in DIR/corpus, DIR/npy_corpus, DIR/huffman_corpus, DIR/onnx_corpus, DIR/h5_corpus and DIR/recipe_corpus (kept
# between runs); crashing inputs land in DIR/artifacts.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"
seconds=300
smoke=0
jobs="${FUZZ_JOBS:-2}"  # build jobs
while (($#)); do
  case "$1" in
    --smoke) smoke=1; seconds=20; shift ;;
    --build) build="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    *) echo "fuzz.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
build="$(mkdir -p "$build" && cd "$build" && pwd)"

# clang++ with a working libFuzzer runtime (Debian: the `clang` package), else skip.
cxx="${FUZZ_CXX:-clang++}"
cc="${FUZZ_CC:-$(echo "$cxx" | sed "s/clang++/clang/")}"
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz.sh: SKIPPED: $cxx not found (install the clang package: make deps)"
  exit 77
fi
probe="$build/probe"
mkdir -p "$probe"
printf '#include <cstdint>\n#include <cstddef>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' \
  > "$probe/probe.cc"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe/probe.cc" -o "$probe/probe" > "$probe/log" 2>&1; then
  echo "fuzz.sh: SKIPPED: $cxx cannot link -fsanitize=fuzzer,address,undefined (libFuzzer runtime missing):"
  head -3 "$probe/log"
  exit 77
fi

start=$(date +%s)
if [[ ! -f "$build/build.ninja" ]]; then
  CC="$cc" CXX="$cxx" cmake -S "$root/fuzz" -B "$build" -G Ninja > "$build/configure.log" 2>&1 ||
    { cat "$build/configure.log"; exit 1; }
fi
cmake --build "$build" -j "$jobs" > "$build/build.log" 2>&1 || { tail -40 "$build/build.log"; exit 1; }
echo "fuzz.sh: built in $(( $(date +%s) - start )) s"

seeds="$build/seeds"
corpus="$build/corpus"
rm -rf "$seeds"
mkdir -p "$seeds" "$corpus" "$build/artifacts"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
if ((smoke)); then
  mutations="$build/mutations"
  rm -rf "$mutations"
  mkdir -p "$mutations"
  "$build/make_corpus" "$seeds" --mutations "$mutations" --flips 3000
else
  "$build/make_corpus" "$seeds"
fi

# run_fuzzer NAME SECONDS CORPUS SEEDS [libFuzzer options]: fuzzes; exit 1 on a finding.
# New inputs go to the first folder (the corpus); the seeds are read from the second.
run_fuzzer() {
  local name="$1" secs="$2" corpus="$3" seeds="$4" log="$build/$1.log"
  shift 4
  if ! "$build/$name" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$build/artifacts/" -print_final_stats=1 "$@" \
      -max_total_time="$secs" "$corpus" "$seeds" > "$log" 2>&1; then
    grep -E "ERROR|runtime error|SUMMARY|Test unit written|==[0-9]+==" "$log" | head -40 || true
    echo "fuzz.sh: FAILED: $name found a crash (full log: $log, inputs in $build/artifacts)"
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added|stat::average_exec_per_sec" "$log" |
    sed "s/^/fuzz.sh: $name: /" || true
}

run_fuzzer shr_loader_fuzzer "$seconds" "$corpus" "$seeds" -max_len=65536 -dict="$root/fuzz/shr.dict"
npy_seeds="$build/npy_seeds"
rm -rf "$npy_seeds"
mkdir -p "$npy_seeds" "$build/npy_corpus"
"$build/make_npy_seeds" "$npy_seeds"
run_fuzzer npy_fuzzer $(( (seconds + 1) / 2 )) "$build/npy_corpus" "$npy_seeds" -max_len=16384 -dict="$root/fuzz/npy.dict"
huffman_seeds="$build/huffman_seeds"
rm -rf "$huffman_seeds"
mkdir -p "$huffman_seeds" "$build/huffman_corpus"
"$build/make_huffman_seeds" "$huffman_seeds" > /dev/null
run_fuzzer huffman_fuzzer $(( (seconds + 1) / 2 )) "$build/huffman_corpus" "$huffman_seeds" -max_len=8192
if [[ -x "$build/onnx_import_fuzzer" ]] && "${FUZZ_PYTHON:-/usr/bin/python3}" -c "import onnx, numpy" 2>/dev/null; then
  onnx_seeds="$build/onnx_seeds"
  rm -rf "$onnx_seeds"
  mkdir -p "$onnx_seeds" "$build/onnx_corpus"
  "${FUZZ_PYTHON:-/usr/bin/python3}" "$root/fuzz/make_onnx_seeds.py" "$onnx_seeds" > /dev/null
  run_fuzzer onnx_import_fuzzer "$seconds" "$build/onnx_corpus" "$onnx_seeds" -max_len=16384
else
  echo "fuzz.sh: onnx_import_fuzzer SKIPPED (not built: libonnx missing, or no python3 with onnx for its seeds)"
fi
if [[ -x "$build/h5_model_fuzzer" ]]; then
  h5_seeds="$build/h5_seeds"
  rm -rf "$h5_seeds"
  mkdir -p "$h5_seeds" "$build/h5_corpus"
  "$build/make_h5_seeds" "$h5_seeds" > /dev/null
  run_fuzzer h5_model_fuzzer $(( (seconds + 1) / 2 )) "$build/h5_corpus" "$h5_seeds" -max_len=65536 -dict="$root/fuzz/h5.dict"
else
  echo "fuzz.sh: h5_model_fuzzer SKIPPED (not built: libhdf5 missing)"
fi
if [[ -x "$build/recipe_fuzzer" ]]; then
  # Seeds: the shipped recipes, each also with the --set overrides of the recipe tests. The stage
  # registry: the dump of the built shrink ($SHRINK_BIN) when there is one, else the fuzzer's own.
  recipe_seeds="$build/recipe_seeds"
  rm -rf "$recipe_seeds"
  mkdir -p "$recipe_seeds" "$build/recipe_corpus"
  for f in "$root"/recipes/*.yaml; do
    cp "$f" "$recipe_seeds/"
    { cat "$f"; printf '#--set train.epochs=1\n#--set data.val_limit=200\n#--set seed=3\n'; } \
      > "$recipe_seeds/set-$(basename "$f")"
  done
  if [[ -x "${SHRINK_BIN:-}" ]] && "$SHRINK_BIN" run --list-stages --json > "$build/recipe_stages.json" 2>/dev/null; then
    export SHRINK_RECIPE_STAGES="$build/recipe_stages.json"
    echo "fuzz.sh: recipe_fuzzer: the stages of $SHRINK_BIN"
  else
    unset SHRINK_RECIPE_STAGES
    echo "fuzz.sh: recipe_fuzzer: its own stage schema (no \$SHRINK_BIN)"
  fi
  run_fuzzer recipe_fuzzer $(( (seconds + 1) / 2 )) "$build/recipe_corpus" "$recipe_seeds" -max_len=8192 \
    -dict="$root/fuzz/recipe.dict"
else
  echo "fuzz.sh: recipe_fuzzer SKIPPED (not built: yaml-cpp or nlohmann_json missing)"
fi
fuzzer=("$build/shr_loader_fuzzer" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$build/artifacts/")

if ((smoke)); then
  # Replay (no mutation): the seeds, every truncation of one seed and the single-bit flips.
  replay="$build/replay.log"
  if ! "${fuzzer[@]}" -runs=0 "$seeds" "$mutations" > "$replay" 2>&1; then
    grep -E "ERROR|runtime error|SUMMARY|Test unit written|==[0-9]+==" "$replay" | head -40 || true
    echo "fuzz.sh: FAILED: a truncated or bit-flipped seed crashed (full log: $replay)"
    exit 1
  fi
  echo "fuzz.sh: replayed $(ls "$seeds" | wc -l) seeds and $(ls "$mutations" | wc -l) truncations / bit flips"
fi
echo "fuzz.sh: OK in $(( $(date +%s) - start )) s"
