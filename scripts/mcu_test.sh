#!/usr/bin/env bash
# The Cortex-M4 check (issue 8, docs/mcu.md): trains a LeNet-5 briefly, quantizes it to int8 and,
# pruned to 90% sparsity, to k-means 4-bit (stored as csr-codebook) and to int8 (CSR weights), and
# the Deep Compression recipe's model (dc: 92% pruned with one global threshold, k-means 4-bit); exports the four as C source,
# cross-builds the runtime and one firmware per model (examples/cortex-m4, cmake/arm-none-eabi.cmake),
# runs them bare-metal under QEMU (mps2-an386, a Cortex-M4) and compares their outputs with
# `shrink infer` bit for bit (float32 bit patterns). Prints flash, RAM, the runtime's .text and the instruction count.
# dc must fit a Cortex-M4 with 128 KB of flash and 64 KB of RAM (issue 8: flash without the test
# inputs <= 131,072 bytes, RAM <= 65,536 bytes; the firmware registers only the model's kernels,
# the runtime is built with terse messages and the arena is the exported Cortex-M4 plan); the
# measured figures are printed. SHRINK_MCU_ALLOW_NO_FIT=1 reports a miss without failing.
# Exit: 0 bit-exact and dc fits, 1 a difference, a failure or dc too big, 77 (skip) without the
# cross tools
# (`make deps` installs gcc-arm-none-eabi, libnewlib-arm-none-eabi, libstdc++-arm-none-eabi-newlib
# and qemu-system-arm).
#
#   scripts/mcu_test.sh --shrink build/bin/shrink --build build/mcu [--work DIR] [--images 8] [--hard-float]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
shrink="" build="" work="" images=8
build_type=MinSizeRel hard_float=OFF
data_dir=${SHRINK_DATA_DIR:-/usr/share/datasets/fashion-mnist}
while (($#)); do
  case "$1" in
    --shrink) shrink=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --build-type) build_type=$2; shift 2 ;;
    --hard-float) hard_float=ON; shift ;;
    *) echo "mcu_test: unknown argument $1 (usage: --shrink PATH --build DIR [--work DIR] [--images N] [--build-type T] [--hard-float])" >&2; exit 2 ;;
  esac
done
[[ -n "$shrink" && -n "$build" ]] || { echo "mcu_test: --shrink and --build are required" >&2; exit 2; }

for tool in arm-none-eabi-gcc arm-none-eabi-g++ arm-none-eabi-size qemu-system-arm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "mcu_test: SKIPPED: $tool not found (make deps installs it)"; exit 77; }
done
# newlib and its libstdc++ (separate Debian packages from the compiler)
for lib in libc_nano.a libstdc++_nano.a; do
  [[ -f $(arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -print-file-name=$lib) ]] ||
    { echo "mcu_test: SKIPPED: the arm-none-eabi $lib is missing (make deps installs newlib)"; exit 77; }
done
qemu-system-arm -machine help | grep -q '^mps2-an386 ' ||
  { echo "mcu_test: SKIPPED: this qemu-system-arm has no mps2-an386 board"; exit 77; }

py=/usr/bin/python3
npy="$py $src/scripts/mcu_npy.py"
shrink=$(cd "$(dirname "$shrink")" && pwd)/$(basename "$shrink")
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
if [[ -z "$work" ]]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/shrink-mcu.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/int8" "$work/kmeans" "$work/csr8" "$work/dc" "$build"
cd "$work"
# Keep the models' own output quiet; show it when a step fails.
step() { "$@" >> log.txt 2>&1 || { cat log.txt; echo "mcu_test: failed: $*" >&2; exit 1; }; }

step "$shrink" train --model lenet5 --data fashion-mnist --data-dir "$data_dir" --train-limit 2000 --epochs 1 -o m.h5
step "$shrink" quantize m.h5 --data fashion-mnist --data-dir "$data_dir" --bits 8 --limit 500 --calibration 200 -o q.h5
step "$shrink" prune m.h5 --data fashion-mnist --data-dir "$data_dir" --method magnitude --sparsity 0.9 -o p.h5
step "$shrink" quantize p.h5 --data fashion-mnist --data-dir "$data_dir" --scheme kmeans --bits 4 --limit 500 \
  --calibration 200 -o k.h5
step "$shrink" quantize p.h5 --data fashion-mnist --data-dir "$data_dir" --bits 8 --limit 500 --calibration 200 -o c.h5
step "$shrink" prune m.h5 --data fashion-mnist --data-dir "$data_dir" --method magnitude --sparsity 0.92 --global -o p92.h5
step "$shrink" quantize p92.h5 --data fashion-mnist --data-dir "$data_dir" --scheme kmeans --bits 4 --limit 500 \
  --calibration 200 -o dc.h5
step $npy images "$data_dir" "$images" x.npy
for model in int8:q.h5 kmeans:k.h5 csr8:c.h5 dc:dc.h5; do
  name=${model%%:*} h5=${model#*:}
  step "$shrink" export "$h5" --format c --name model -o "$name"
  step $npy header x.npy "$name/inputs.h"
  step "$shrink" infer "$h5" --input x.npy -o "y_$name.npy"
done

step cmake -S "$src" -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$src/cmake/arm-none-eabi.cmake" \
  -DCMAKE_BUILD_TYPE="$build_type" -DSHRINK_M4_HARD_FLOAT=$hard_float "-DSHRINK_MCU_MODEL_DIRS=$work/int8;$work/kmeans;$work/csr8;$work/dc"
step cmake --build "$build" -j 1 --target fw_int8 fw_kmeans fw_csr8 fw_dc

# .text of the runtime library with all its kernels (every object of the archive, before the
# linker drops what a model does not use).
rt_text=$(arm-none-eabi-size -A "$build/runtime/libshrink_rt.a" | awk '$1 ~ /^\.text/ {t += $2} END {print t}')
echo "mcu: runtime libshrink_rt.a for Cortex-M4 ($build_type, hard float $hard_float): .text $rt_text bytes (all kernels)"

status=0
for name in int8 kmeans csr8 dc; do
  elf=$build/bin/fw_$name.elf
  # -icount shift=0: one instruction per ns of virtual time, so SysTick (25 MHz) ticks * 40 = instructions.
  if ! timeout 60 qemu-system-arm -M mps2-an386 -nographic -semihosting -icount shift=0 -kernel "$elf" \
       > "qemu_$name.txt" 2>&1; then
    cat "qemu_$name.txt"; echo "mcu_test: $name: the firmware failed under QEMU" >&2; status=1; continue
  fi
  grep '^y ' "qemu_$name.txt" > "mcu_$name.txt" || true
  $npy bits "y_$name.npy" > "host_$name.txt"
  echo "== $name: Cortex-M4 (QEMU) outputs, float32 bits, then the output integers"
  grep -E '^(y|q) ' "qemu_$name.txt"
  echo "== $name: shrink infer outputs, float32 bits"
  cat "host_$name.txt"
  if [[ -s "host_$name.txt" ]] && cmp -s "mcu_$name.txt" "host_$name.txt"; then
    echo "mcu: $name: bit-exact ($(wc -l < "host_$name.txt") inputs)"
  else
    diff "mcu_$name.txt" "host_$name.txt" || true
    echo "mcu_test: $name: the Cortex-M4 outputs differ from shrink infer" >&2; status=1
  fi
  # Flash: code and constants (.text + .rodata, the unwind tables and .data's initial values),
  # the inputs compiled in for the test included. RAM: .data + .bss (the arena and the
  # firmware's buffers) + the heap the loader used + the stack high-water mark.
  read -r text rodata unwind data bss < <(arm-none-eabi-size -A "$elf" | awk '
    $1 == ".text" {t = $2} $1 == ".rodata" {r = $2} $1 ~ /^\.ARM\.ex/ {u += $2} $1 == ".data" {d = $2} $1 == ".bss" {b = $2}
    END {print t + 0, r + 0, u + 0, d + 0, b + 0}')
  heap=$(sed -n 's/.*heap peak \([0-9]*\) bytes.*/\1/p' "qemu_$name.txt")
  stack=$(sed -n 's/.*stack high-water \([0-9]*\) of.*/\1/p' "qemu_$name.txt")
  arena=$(sed -n 's/.*, arena \([0-9]*\) bytes (planner \([0-9]*\)).*/\1/p' "qemu_$name.txt")
  planned=$(sed -n 's/.*, arena \([0-9]*\) bytes (planner \([0-9]*\)).*/\2/p' "qemu_$name.txt")
  ticks=$(sed -n 's/.* \([0-9]*\) SysTick ticks per run/\1/p' "qemu_$name.txt")
  grep '^mcu: ' "qemu_$name.txt"
  inputs=$((16#$(arm-none-eabi-nm -S "$elf" | awk '$4 == "mcu_inputs" {print $2}')))
  flash=$((text + rodata + unwind + data))
  ram=$((data + bss + ${heap:-0} + ${stack:-0}))
  echo "mcu: $name: flash $flash bytes (.text $text + .rodata $rodata + unwind tables $unwind + .data $data)," \
       "of which test inputs $inputs; RAM $ram bytes (.data $data + .bss $bss + heap $heap + stack $stack);" \
       "about $((${ticks:-0} * 40)) instructions per inference (QEMU -icount)"
  # The exported MODEL_ARENA_BYTES is the Cortex-M4's (scalar kernels') plan: it must equal what
  # the runtime asks on the device (an older exporter wrote the x86-64 plan: RAM with the right one).
  if [[ $arena != "$planned" ]]; then
    echo "mcu: $name: the exported arena ($arena bytes) is not the Cortex-M4 plan ($planned bytes):" \
         "RAM with that arena $((ram - arena + planned)) bytes (an exporter from before the per-target arena?)"
  fi
  # The claim of issue 8: a Cortex-M4 with 128 KB flash / 64 KB RAM.
  if [[ $name == dc ]]; then
    if ((flash - inputs <= 131072 && ram <= 65536)); then
      echo "mcu: dc: fits a Cortex-M4 with 128 KB flash / 64 KB RAM (flash $((flash - inputs)) without the test inputs, RAM $ram)"
    else
      echo "mcu: dc: does NOT fit 128 KB flash / 64 KB RAM: flash $((flash - inputs)) bytes without the test inputs" \
           "(limit 131072), RAM $ram bytes (limit 65536)" >&2
      grep -q '^mcu: kernels: all' "qemu_$name.txt" &&
        echo "mcu: dc: the firmware links every kernel: model.h has no MODEL_KERNELS (an exporter from before the kernel table?)" >&2
      [[ ${SHRINK_MCU_ALLOW_NO_FIT:-0} == 1 ]] || status=1
    fi
  fi
done
exit $status
