// Sparse (CSR) dense layer, int8 input and int8 values, on AVX2. Bit-exact with dense_csr_q_ref.
//
// x is first written to a table of int32 whose low 16 bits hold q_x and whose high 16 bits are
// zero; 16 nonzeros at a time (two independent vpgatherdd) gather their inputs, and vpmaddwd
// with the sign-extended values gives x * v + 0 * (high half) = the exact product. Lane sums
// stay in int32 for at most 131,071 products of |x * v| <= 2^14 each, then go to int64.
// Tails (row length % 8) and requantization are scalar int64.
#include <algorithm>

#include "kernels/avx2_common.h"

namespace shrink::rt::kernels {
namespace {

constexpr int64_t kMaxLaneTerms = 131071;  // products per int32 lane before an int64 flush (131071 * 2^14 < 2^31)

SHRINK_AVX2 inline __m256i load_idx8(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}
SHRINK_AVX2 inline __m256i load_idx8(const uint16_t* p) {
  return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
SHRINK_AVX2 inline __m256i load_idx8(const uint32_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

template <typename TI>
SHRINK_AVX2 void spmv(const DenseParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq, const QOut& y,
                      void* scratch) {
  auto* cur = static_cast<unsigned char*>(scratch);
  auto* table = static_cast<int32_t*>(carve(cur, static_cast<size_t>(p.in) * 4));
  const auto* idx = static_cast<const TI*>(w.col_idx);
  const auto* val = static_cast<const int8_t*>(w.values);
  const OutClamp oc = out_clamp(y.bits, y.fl, p.act);
  const bool ys16 = storage_is_s16(y.bits);
  for (int n = 0; n < p.n; ++n) {
    const int8_t* xn = static_cast<const int8_t*>(x.data) + static_cast<size_t>(n) * p.in;
    for (int k = 0; k < p.in; ++k) table[k] = static_cast<uint16_t>(static_cast<int16_t>(xn[k]));
    for (int r = 0; r < w.rows; ++r) {
      const uint32_t j0 = row_ptr_at(w, r), j1 = row_ptr_at(w, r + 1);
      int64_t sum = 0;
      uint32_t j = j0;
      while (j1 - j >= 8) {
        // Blocks of 16 * (kMaxLaneTerms - 1) nonzeros: each lane of acc0 / acc1 takes at most
        // kMaxLaneTerms products before the lanes are summed in int64.
        const uint32_t jb = j + static_cast<uint32_t>(std::min<int64_t>(j1 - j, 16 * (kMaxLaneTerms - 1)));
        __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
        for (; jb - j >= 16; j += 16) {  // two independent gathers in flight
          const __m256i x0 = _mm256_i32gather_epi32(table, load_idx8(idx + j), 4);
          const __m256i x1 = _mm256_i32gather_epi32(table, load_idx8(idx + j + 8), 4);
          const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(val + j));
          acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x0, _mm256_cvtepi8_epi32(v)));
          acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(x1, _mm256_cvtepi8_epi32(_mm_srli_si128(v, 8))));
        }
        for (; jb - j >= 8; j += 8) {
          const __m256i x0 = _mm256_i32gather_epi32(table, load_idx8(idx + j), 4);
          const __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(val + j)));
          acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x0, v));
        }
        sum += hsum32_64(acc0) + hsum32_64(acc1);
      }
      for (; j < j1; ++j) sum += static_cast<int32_t>(val[j]) * xn[idx[j]];
      sum += wq.bias ? wq.bias[r] : 0;
      store_q(y.data, ys16, static_cast<size_t>(n) * p.out + r, requant_clamp_small(sum, channel_shift(wq, x.fl, y.fl, r), oc));
    }
  }
}

}  // namespace

size_t dense_csr_q_avx2_scratch(const DenseParams& p, int x_bits, int w_bits) {
  return carve_size(static_cast<size_t>(p.in) * 4);
}

bool dense_csr_q_avx2(const DenseParams& p, const QIn& x, const CsrMatrix& w, const QWeights& wq, const QOut& y,
                      void* scratch) {
  if (storage_is_s16(x.bits) || storage_is_s16(wq.bits) || y.bits > 16) return false;
  switch (w.idx_type) {
    case IndexType::kU8: spmv<uint8_t>(p, x, w, wq, y, scratch); break;
    case IndexType::kU16: spmv<uint16_t>(p, x, w, wq, y, scratch); break;
    default: spmv<uint32_t>(p, x, w, wq, y, scratch); break;
  }
  return true;
}

}  // namespace shrink::rt::kernels
