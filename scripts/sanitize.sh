#!/usr/bin/env bash
# Sanitizer builds without LibTorch (-DSHRINK_RUNTIME_ONLY=ON), docs/security.md. One script for
# `make test-asan` / `make test-tsan` and for the ctests sanitize_asan / sanitize_tsan that
# `make test` (CI) runs.
#
#   scripts/sanitize.sh asan [--build DIR] [--jobs N]   # ASan + UBSan: every runtime test (the
#                                                      # loader, kernels, Huffman, .npy reader,
#                                                      # shrink-rt on hostile files) and, with
#                                                      # -DSHRINK_WITH_PARSERS=ON, every test of
#                                                      # the parsers (tests/ir: ONNX importer, .h5
#                                                      # reader, .npy, data sets; tests/recipe:
#                                                      # the recipe parser)
#   scripts/sanitize.sh tsan [--build DIR] [--jobs N]   # TSan: the Reentrancy tests (two models
#                                                      # on two threads), runtime library only
#
# Any sanitizer report fails (exit 1). Exits 77 (skipped) when the compiler ($CXX, default c++)
# cannot link a program with the sanitizer (libasan / libubsan / libtsan missing).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
kind="${1:-}"
shift || true
case "$kind" in
  asan) flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" ;;
  tsan) flags="-fsanitize=thread" ;;
  *) echo "usage: scripts/sanitize.sh asan|tsan [--build DIR] [--jobs N]" >&2; exit 2 ;;
esac
build="$root/build-$kind"
jobs="$(nproc)"
while (($#)); do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    *) echo "sanitize.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$build"
build="$(cd "$build" && pwd)"
cxx="${CXX:-c++}"
cc="${CC:-cc}"

# The compiler must link a sanitized program, else skip (77).
probe="$build/probe"
mkdir -p "$probe"
printf 'int main() { return 0; }\n' > "$probe/probe.cc"
# shellcheck disable=SC2086
if ! "$cxx" $flags "$probe/probe.cc" -o "$probe/probe" > "$probe/log" 2>&1 || ! "$probe/probe" >> "$probe/log" 2>&1; then
  echo "sanitize.sh: SKIPPED: $cxx cannot build and run with $flags:"
  head -3 "$probe/log"
  exit 77
fi

start=$(date +%s)
# ccache (when the project finds it): -g puts the build folder into the hash unless told not to,
# so that each new folder would miss; the debug info only serves the sanitizers' stack traces.
export CCACHE_NOHASHDIR=1
# The parsers (shrink_ir, the recipe parser) need ONNX, HDF5, yaml-cpp, nlohmann-json and zlib,
# which `make deps` installs; the runtime needs nothing.
parsers=OFF
[[ "$kind" == asan ]] && parsers=ON
if [[ ! -f "$build/build.ninja" ]] || ! grep -q "^SHRINK_WITH_PARSERS:BOOL=$parsers\$" "$build/CMakeCache.txt"; then
  # -O1 -g1 (line tables, for the sanitizers' stack traces): the usual sanitizer trade-off, and
  # 40 % less compile time than RelWithDebInfo's -O2 -g (measured: 248 s of CPU instead of 425 s
  # for the asan build with ccache cold), which is what CI pays when ccache is cold.
  CC="$cc" CXX="$cxx" cmake -S "$root" -B "$build" -G Ninja -DSHRINK_RUNTIME_ONLY=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
    -DCMAKE_SHARED_LINKER_FLAGS="$flags" -DSHRINK_WITH_PARSERS=$parsers > "$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
fi
if [[ "$kind" == asan ]]; then
  # shrink_rt_tests pulls in what its tests run: the runtime, shrink-rt and examples/minimal.c.
  target="shrink_rt_tests shrink_ir_tests shrink_recipe_tests"
else
  # TSan needs only the runtime library and the reentrancy test (compiled below): about 40 s of
  # CPU with ccache cold, against 250 s for the asan build.
  target=shrink_rt
fi
# shellcheck disable=SC2086
cmake --build "$build" -j "$jobs" --target $target > "$build/build.log" 2>&1 ||
  { tail -40 "$build/build.log"; exit 1; }
if [[ "$kind" == tsan ]]; then
  # shellcheck disable=SC2086
  "$cxx" $flags -O1 -g1 -std=c++17 -I"$root/runtime/include" -I"$root/runtime/format" -I"$root/tests/runtime" \
    "$root/tests/runtime/reentrancy_test.cc" "$build/runtime/libshrink_rt.a" -lgtest -lgtest_main -pthread \
    -o "$build/reentrancy_test" >> "$build/build.log" 2>&1 || { tail -40 "$build/build.log"; exit 1; }
fi
echo "sanitize.sh: $kind build up to date in $(( $(date +%s) - start )) s"

t0=$(date +%s)
if [[ "$kind" == asan ]]; then
  # One gtest process per suite (not one per test through ctest): the same tests, a fraction of
  # the start-ups.
  : > "$build/test.log"
  for suite in shrink_rt_tests shrink_ir_tests shrink_recipe_tests; do
    t1=$(date +%s)
    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
      "$build/tests/$suite" --gtest_brief=1 >> "$build/test.log" 2>&1 ||
      { tail -60 "$build/test.log"; echo "sanitize.sh: FAILED in $suite (log: $build/test.log)"; exit 1; }
    echo "sanitize.sh: $suite: $(grep '^\[==========\]' "$build/test.log" | tail -1) ($(( $(date +%s) - t1 )) s)"
  done
else
  TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1}" \
    "$build/reentrancy_test" > "$build/test.log" 2>&1 ||
    { tail -60 "$build/test.log"; echo "sanitize.sh: FAILED (log: $build/test.log)"; exit 1; }
fi
[[ "$kind" == tsan ]] && tail -3 "$build/test.log" | sed "s/^/sanitize.sh: /"
echo "sanitize.sh: $kind OK: tests $(( $(date +%s) - t0 )) s, $(( $(date +%s) - start )) s in all"
