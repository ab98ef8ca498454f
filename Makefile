# shrink: the two commands a user needs are `make demo` and `make test`.
BUILD     ?= build
BUILD_TYPE ?= Release
JOBS      ?= $(shell nproc)
CMAKE_ARGS ?=

# Debian's LibTorch uses libgomp: passive waiting keeps idle OpenMP threads from spinning.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: all deps configure build demo test bench clean runtime-only fuzz test-tsan test-asan test-mcu

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS) > $(BUILD).configure.log 2>&1 || \
	  { cat $(BUILD).configure.log; exit 1; }

configure: deps $(BUILD)/build.ninja

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# The main job: the default recipe on Fashion-MNIST, ending with accuracy, size and the report.
demo: build
	$(BUILD)/bin/shrink run recipes/default.yaml -o runs/demo

# The whole test suite (what CI runs).
test: build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 1200

bench: build
	bench/run.sh

# The runtime alone, without LibTorch (it must build with the C++ standard library only).
runtime-only:
	@cmake -S . -B build-rt -G Ninja -DSHRINK_RUNTIME_ONLY=ON -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > /dev/null
	@cmake --build build-rt -j $(JOBS)

# Sanitizer builds without LibTorch (scripts/sanitize.sh, docs/security.md). test-asan:
# AddressSanitizer + UndefinedBehaviorSanitizer on every test of the runtime and of the parsers
# (ONNX, .h5, .npy, recipes); test-tsan: ThreadSanitizer on the reentrancy test (two models on two
# threads). Any report fails the target. `make test` runs both too (ctest sanitize_asan,
# sanitize_tsan), in the same trees.
TSAN_BUILD ?= $(BUILD)/tsan
ASAN_BUILD ?= $(BUILD)/asan
test-tsan:
	scripts/sanitize.sh tsan --build $(TSAN_BUILD) --jobs $(JOBS)
test-asan:
	scripts/sanitize.sh asan --build $(ASAN_BUILD) --jobs $(JOBS)

# The runtime bare-metal on a Cortex-M4 under QEMU (mps2-an386): an int8 and a pruned k-means
# LeNet-5 compared bit for bit with `shrink infer`; prints flash, RAM and instruction counts
# (docs/mcu.md). Cross build in $(BUILD)/mcu; also run by `make test` (ctest mcu_qemu).
test-mcu: build
	scripts/mcu_test.sh --shrink $(BUILD)/bin/shrink --build $(BUILD)/mcu

# The .shr loader fuzzer (libFuzzer + ASan + UBSan, clang; its own project in fuzz/, built in
# $(FUZZ_BUILD)) for FUZZ_SECONDS, then the .npy reader, the Huffman decoder, the ONNX importer
# and the .h5 reader; fails when one finds a crash. docs/fuzzing.md.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 300
fuzz: deps
	@scripts/fuzz.sh --build $(FUZZ_BUILD) --seconds $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) build-rt $(FUZZ_BUILD) $(BUILD).configure.log
