// libFuzzer target of shrink-rt's .npy reader (runtime/tools/npy.cc): every input is read as a
// .npy file from memory (fmemopen). Any crash, ASan or UBSan report is a bug: a bad file must
// only ever give false and a message. A file that reads must hold exactly its shape's elements.
//
//   build-fuzz/npy_fuzzer -dict=fuzz/npy.dict CORPUS_DIR   # fuzz (scripts/fuzz.sh)
//   build-fuzz/npy_fuzzer FILE...                           # replay files
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/tools/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;  // fmemopen wants a non-empty buffer
  std::FILE* f = fmemopen(const_cast<uint8_t*>(data), size, "rb");
  if (!f) return 0;
  shrink::rttool::NpyArray a;
  std::string err;
  const bool ok = shrink::rttool::read_npy(f, "input.npy", a, err);
  std::fclose(f);
  if (!ok) {
    if (err.empty()) std::abort();  // contract: a message on failure
    return 0;
  }
  const size_t n = a.is_int64 ? a.i64.size() : a.f32.size();
  if (static_cast<uint64_t>(a.numel()) != n) std::abort();
  return 0;
}
