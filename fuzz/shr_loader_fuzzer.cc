// libFuzzer target of the .shr loader: every input is loaded from memory with shrink_rt_load, and
// when it loads, inspected through the C API and run once with a deterministic input in an
// arena of shrink_rt_arena_size bytes (runs needing more than kMaxArena are skipped). Any crash,
// ASan report or UBSan report is a bug: bad bytes must only ever yield a status.
//
//   build/shr_loader_fuzzer -max_len=65536 -dict=fuzz/shr.dict CORPUS_DIR   # fuzz (make fuzz)
//   build/shr_loader_fuzzer FILE...                                          # replay files
//
// CRC-32s guard every section, so a mutated file would almost always stop at the checksum. Each
// input is therefore tried twice: as it is (the checksum checks themselves are fuzzed), then,
// when that changes anything, with the header and section CRCs recomputed, so the mutations
// reach the record, data and graph checks, the arena planner and the kernels.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "shr_format.h"
#include "shrink_rt.h"
#include "tests/runtime/tiny_shr.h"  // fix_crcs

namespace {

using shrink::test::fix_crcs;

constexpr size_t kMaxArena = size_t{64} << 20;      // bytes of arena a run may use
constexpr size_t kMaxInputValues = size_t{1} << 20;  // elements of one graph input

/// Reads everything the inspection API offers (the strings too, so ASan sees every byte).
void inspect(const shrink_rt_model* m) {
  size_t sink = 0;
  auto use = [&](const char* s) { sink += s ? std::strlen(s) : 0; };
  use(shrink_rt_model_name(m));
  use(shrink_rt_model_producer(m));
  sink += static_cast<size_t>(shrink_rt_format_version(m)) + shrink_rt_model_size(m);
  for (int i = 0; i < shrink_rt_label_count(m); ++i) use(shrink_rt_label(m, i));
  double norm = 0;
  for (int c = 0; c < 4; ++c) norm += double{shrink_rt_input_mean(m, c)} + shrink_rt_input_std(m, c);
  sink += norm > 0;
  for (int i = 0; i < shrink_rt_tensor_count(m); ++i) {
    shrink_rt_tensor_info t;
    if (shrink_rt_tensor_info_get(m, i, &t) == SHRINK_RT_OK) use(t.name);
  }
  for (int i = 0; i < shrink_rt_op_count(m); ++i) {
    shrink_rt_op_info o;
    if (shrink_rt_op_info_get(m, i, &o) != SHRINK_RT_OK) continue;
    use(o.name);
    use(o.op);
    for (int j = 0; j < o.input_count; ++j) sink += static_cast<size_t>(shrink_rt_op_input(m, i, j));
  }
  volatile size_t keep = sink;
  (void)keep;
}

/// Sets every input (float, or integers when the input is integer), runs, reads every output.
/// The arena starts as a byte pattern, not zeros: an input the API cannot set (an integer graph
/// input without a Quantize op) is run with arbitrary bytes, as a careless caller would.
void run_once(shrink_rt_model* m) {
  const size_t arena_size = shrink_rt_arena_size(m);
  if (arena_size == 0 || arena_size > kMaxArena) return;
  void* arena = std::malloc(arena_size);
  if (!arena) return;
  std::memset(arena, 0xA5, arena_size);
  std::vector<float> x;
  std::vector<int16_t> q;
  for (int i = 0; i < shrink_rt_input_count(m); ++i) {
    shrink_rt_tensor_info t;
    if (shrink_rt_tensor_info_get(m, shrink_rt_input_tensor(m, i), &t) != SHRINK_RT_OK ||
        static_cast<uint64_t>(t.numel) > kMaxInputValues)
      continue;
    const size_t n = static_cast<size_t>(t.numel);
    x.resize(n);
    for (size_t k = 0; k < n; ++k) x[k] = 3.0f * std::sin(0.7f * static_cast<float>(k));  // saturates some values
    shrink_rt_status s = shrink_rt_set_input_f32(m, arena, arena_size, i, x.data(), n);
    if (s == SHRINK_RT_UNSUPPORTED) {  // an integer graph input: set it as already-quantized integers
      q.resize(n);
      for (size_t k = 0; k < n; ++k) q[k] = static_cast<int16_t>(static_cast<int>(k * 37 % 255) - 127);
      shrink_rt_set_input_q(m, arena, arena_size, i, q.data(), n);
    }
  }
  shrink_rt_set_profiling(m, 1);
  if (shrink_rt_run(m, arena, arena_size) == SHRINK_RT_OK) {
    for (int i = 0; i < shrink_rt_output_count(m); ++i) {
      shrink_rt_tensor_info t;
      if (shrink_rt_tensor_info_get(m, shrink_rt_output_tensor(m, i), &t) != SHRINK_RT_OK ||
          static_cast<uint64_t>(t.numel) > kMaxInputValues)
        continue;
      std::vector<float> y(static_cast<size_t>(t.numel));
      shrink_rt_get_output_f32(m, arena, i, y.data(), y.size());
      shrink_rt_dtype dtype;
      if (shrink_rt_output_format(m, i, &dtype, nullptr, nullptr) == SHRINK_RT_OK) {
        std::vector<int16_t> yq(static_cast<size_t>(t.numel));  // int8 or int16 values: room for both
        shrink_rt_get_output_q(m, arena, i, yq.data(), yq.size());
      }
    }
    double us = 0;
    for (int i = 0; i < shrink_rt_op_count(m); ++i) shrink_rt_profile(m, i, &us);
    for (int i = 0; i < shrink_rt_tensor_count(m); ++i) (void)shrink_rt_tensor_data(m, arena, i);
  }
  std::free(arena);
}

void load_and_run(const uint8_t* bytes, size_t size) {
  shrink_rt_model* m = nullptr;
  char msg[256];
  const shrink_rt_status s = shrink_rt_load(bytes, size, &m, msg, sizeof msg);
  if (s != SHRINK_RT_OK) {
    if (m != nullptr || msg[0] == '\0') std::abort();  // contract: NULL model and a message on failure
    return;
  }
  inspect(m);
  if (size % 2) shrink_rt_keep_all_tensors(m);  // odd sizes: the planner without buffer reuse
  run_once(m);
  shrink_rt_free(m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The loader wants an 8-byte aligned buffer (64 is best); copy into one of exactly `size`
  // bytes so that ASan catches any read past the end.
  uint8_t* buf = static_cast<uint8_t*>(::operator new(size ? size : 1, std::align_val_t{64}));
  if (size) std::memcpy(buf, data, size);
  load_and_run(buf, size);
  if (fix_crcs(buf, size)) load_and_run(buf, size);
  ::operator delete(buf, std::align_val_t{64});
  return 0;
}
