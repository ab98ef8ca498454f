// Sparse (CSR) dense layer on AVX2: int8 or int16 input, int8 values (int16 values run the
// reference). Bit-exact with dense_csr_q_ref. Works straight on the .shr CSR arrays.
//
// x is widened once to an int16 table (int16 input is used as is). Each row runs in blocks of
// 16 nonzeros: the 16 inputs are fetched by scalar loads inserted into two xmm (vpinsrw with a
// memory operand, two independent chains), the 16 values are widened to int16, and vpmaddwd
// adds the products into int32 lanes; the last block of a row is masked (and made of
// zero-filled copies when it would read past nnz). On the Zen 3 build machine this is about
// 1.5x faster per nonzero than vpgatherdd (8 loads in microcode) or 4-8 scalar accumulators
// (docs/runtime-kernels.md, "Sparse against dense").
// Exactness: a vpmaddwd pair sum is at most 2 * 2^7 * 2^7 = 2^15 (int8 x int8) or 2^23 (int16
// x int8); the int32 lanes are flushed into the int64 row sum every int32_pair_budget() blocks
// (65,535 / 255), so they never overflow. Row sum + bias and requant_clamp_small as the
// reference.
#include <algorithm>
#include <cstring>

#include "kernels/avx2_common.h"

namespace shrink::rt::kernels {
namespace {

/// The 16 table entries at columns c[0..15] as int16: two chains of vpinsrw (memory operand).
template <typename TI>
SHRINK_AVX2 inline __m256i lookup16(const int16_t* t, const TI* c) {
  __m128i lo = _mm_cvtsi32_si128(t[c[0]]), hi = _mm_cvtsi32_si128(t[c[8]]);
  lo = _mm_insert_epi16(lo, t[c[1]], 1), hi = _mm_insert_epi16(hi, t[c[9]], 1);
  lo = _mm_insert_epi16(lo, t[c[2]], 2), hi = _mm_insert_epi16(hi, t[c[10]], 2);
  lo = _mm_insert_epi16(lo, t[c[3]], 3), hi = _mm_insert_epi16(hi, t[c[11]], 3);
  lo = _mm_insert_epi16(lo, t[c[4]], 4), hi = _mm_insert_epi16(hi, t[c[12]], 4);
  lo = _mm_insert_epi16(lo, t[c[5]], 5), hi = _mm_insert_epi16(hi, t[c[13]], 5);
  lo = _mm_insert_epi16(lo, t[c[6]], 6), hi = _mm_insert_epi16(hi, t[c[14]], 6);
  lo = _mm_insert_epi16(lo, t[c[7]], 7), hi = _mm_insert_epi16(hi, t[c[15]], 7);
  return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/// sum over the nonzeros j0 .. j1 - 1 of t[col] * value, exact (see the header). Blocks of 16;
/// the last, partial one is masked, and works on zero-filled copies when it would read past
/// the end of the matrix (nnz): no read outside col_idx / values.
template <typename TI>
SHRINK_AVX2 int64_t row_dot(const int16_t* t, const void* col_idx, const int8_t* val, uint32_t j0, uint32_t j1,
                            uint32_t nnz, int64_t budget) {
  const auto* idx = static_cast<const TI*>(col_idx);
  int64_t sum = 0, blocks = 0;
  __m256i acc = _mm256_setzero_si256();
  uint32_t j = j0;
  for (; j1 - j >= 16; j += 16) {
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(lookup16(t, idx + j), load16_s16(val + j)));
    if (++blocks == budget) {
      sum += hsum32_64(acc);
      acc = _mm256_setzero_si256();
      blocks = 0;
    }
  }
  if (j < j1) {
    const TI* c = idx + j;
    const int8_t* v = val + j;
    TI ci[16] = {};
    int8_t cv[16] = {};
    if (nnz - j < 16) {
      std::copy(c, idx + nnz, ci), std::copy(v, val + nnz, cv);
      c = ci, v = cv;
    }
    const __m256i lane = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m256i keep = _mm256_cmpgt_epi16(_mm256_set1_epi16(static_cast<int16_t>(j1 - j)), lane);
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_and_si256(keep, lookup16(t, c)), load16_s16(v)));
  }
  return sum + hsum32_64(acc);
}

using RowDot = int64_t (*)(const int16_t*, const void*, const int8_t*, uint32_t, uint32_t, uint32_t, int64_t);

SHRINK_AVX2 void spmv(const DenseParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq, const QOut& y,
                      void* scratch) {
  auto* cur = static_cast<unsigned char*>(scratch);
  auto* table = static_cast<int16_t*>(carve(cur, static_cast<size_t>(p.in) * sizeof(int16_t)));
  const bool xs16 = storage_is_s16(x.bits);
  const RowDot dot = w.idx_type == IndexType::kU8 ? row_dot<uint8_t> : (w.idx_type == IndexType::kU16 ? row_dot<uint16_t> : row_dot<uint32_t>);
  const auto* val = static_cast<const int8_t*>(w.values);
  const uint32_t nnz = row_ptr_at(w, w.rows);
  const int64_t budget = int32_pair_budget(x.bits, wq.bits, false);
  const OutClamp oc = out_clamp(y.bits, y.fl, p.act);
  const bool ys16 = storage_is_s16(y.bits);
  for (int n = 0; n < p.n; ++n) {
    const size_t xn = static_cast<size_t>(n) * p.in;
    const int16_t* t = table;
    if (xs16) t = static_cast<const int16_t*>(x.data) + xn;
    else widen_s16(static_cast<const int8_t*>(x.data) + xn, p.in, table);
    uint32_t j0 = 0;
    for (int r = 0; r < w.rows; ++r) {
      const uint32_t j1 = row_ptr_at(w, r + 1);
      const int64_t sum = (wq.bias ? wq.bias[r] : 0) + dot(t, w.col_idx, val, j0, j1, nnz, budget);
      store_q(y.data, ys16, static_cast<size_t>(n) * p.out + r, requant_clamp_small(sum, channel_shift(wq, x.fl, y.fl, r), oc));
      j0 = j1;
    }
  }
}

}  // namespace

size_t dense_csr_q_avx2_scratch(const DenseParams& p, int x_bits, int w_bits) {
  return carve_size(static_cast<size_t>(p.in) * sizeof(int16_t));
}

bool dense_csr_q_avx2(const DenseParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq, const QOut& y,
                      void* scratch) {
  if (storage_is_s16(wq.bits)) return false;  // int16 values: the reference
  spmv(p, x, w, wq, y, scratch);
  return true;
}

}  // namespace shrink::rt::kernels
