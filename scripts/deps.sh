#!/usr/bin/env bash
# Installs what shrink needs on Debian 12 and is missing; quiet when nothing is missing.
# Debian packages via apt-get (as root, or through sudo), ONNX Runtime for the interop tests
# from the npm registry into .deps/node (its install script is skipped: the native library
# ships inside the package). chromium and libpng: the tests render the HTML reports headless
# and check the screenshot. clang and libclang-rt-dev (libFuzzer, ASan, UBSan; a Recommends of
# clang that --no-install-recommends skips): the fuzz targets (make fuzz, scripts/fuzz.sh).
# gcc-arm-none-eabi, newlib (C and C++) and qemu-system-arm: the Cortex-M4 check (make test-mcu,
# scripts/mcu_test.sh, docs/mcu.md).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake ninja-build ccache pkg-config ca-certificates
  libtorch-dev libgloo-dev libopenblas0 libonnx-dev libeigen3-dev libcxxopts-dev libhdf5-dev
  libgtest-dev libyaml-cpp-dev nlohmann-json3-dev zlib1g-dev libpng-dev
  chromium
  clang libclang-rt-dev
  gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm
  dataset-fashion-mnist
  python3-torch python3-torchvision python3-numpy
)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 2; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

ort_version=1.30.0
if [[ ! -f .deps/node/node_modules/onnxruntime-node/package.json ]] ||
   ! grep -q "\"version\": \"$ort_version\"" .deps/node/node_modules/onnxruntime-node/package.json; then
  echo "deps: installing onnxruntime-node $ort_version into .deps/node"
  mkdir -p .deps/node
  npm install --ignore-scripts --no-audit --no-fund --loglevel=error --prefix .deps/node \
    "onnxruntime-node@$ort_version" >/dev/null
fi
