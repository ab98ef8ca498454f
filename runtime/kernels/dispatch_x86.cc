// x86-64: the AVX2 kernels, used when the CPU reports AVX2 and FMA (added to the build instead
// of dispatch_generic.cc; the *_avx2.cc files are only compiled on x86-64).
#include "kernels/internal.h"

namespace shrink::rt::kernels {

// Defined in the *_avx2.cc files.
size_t conv2d_q_avx2_scratch(const Conv2dParams& p, int x_bits, int w_bits);
bool conv2d_q_avx2(const Conv2dParams& p, const QIn& x, const void* w, const QWeights& wq, const QOut& y,
                   void* scratch);
size_t dwconv_q_avx2_scratch(const Conv2dParams& p, int x_bits, int w_bits);
bool dwconv_q_avx2(const Conv2dParams& p, const QIn& x, const void* w, const QWeights& wq, const QOut& y,
                   void* scratch);
size_t dense_q_avx2_scratch(const DenseParams& p, int x_bits, int w_bits);
bool dense_q_avx2(const DenseParams& p, const QIn& x, const void* w, const QWeights& wq, const QOut& y,
                  void* scratch);
size_t dense_csr_q_avx2_scratch(const DenseParams& p, int x_bits, int w_bits);
bool dense_csr_q_avx2(const DenseParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq, const QOut& y,
                      void* scratch);

namespace {
constexpr FastPaths kAvx2{"avx2",
                          conv2d_q_avx2_scratch, conv2d_q_avx2,
                          dwconv_q_avx2_scratch, dwconv_q_avx2,
                          dense_q_avx2_scratch, dense_q_avx2,
                          dense_csr_q_avx2_scratch, dense_csr_q_avx2};
}  // namespace

const FastPaths* cpu_fast_paths() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &kAvx2 : nullptr;
}

}  // namespace shrink::rt::kernels
