// Run-time choice between the scalar reference kernels and the fast paths (AVX2).
#include "kernels/internal.h"

namespace shrink::rt::kernels {

namespace {
// Starts on the best path the CPU supports (detected on first use); set_isa() may force scalar.
const FastPaths*& active() {
  static const FastPaths* a = cpu_fast_paths();
  return a;
}
}  // namespace

const FastPaths* fast_paths() { return active(); }

Isa detected_isa() { return cpu_fast_paths() ? Isa::kAvx2 : Isa::kScalar; }

Isa set_isa(Isa isa) {
  active() = isa == Isa::kAvx2 ? cpu_fast_paths() : nullptr;
  return active_isa();
}

Isa active_isa() { return active() ? Isa::kAvx2 : Isa::kScalar; }

const char* isa_name() { return active() ? active()->name : "scalar"; }

const char* active_paths() {
  static const char* const kAvx2 = "conv2d_q=avx2 dwconv_s8=avx2 dense_q=avx2 dense_csr_s8=avx2";
  static const char* const kScalar = "conv2d_q=scalar dwconv_s8=scalar dense_q=scalar dense_csr_s8=scalar";
  return active() ? kAvx2 : kScalar;
}

}  // namespace shrink::rt::kernels
