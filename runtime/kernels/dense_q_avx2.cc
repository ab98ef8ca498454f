// Integer dense layer (batch rows of x times W^T) on AVX2, any mix of int8 / int16 input and
// weights. Bit-exact with dense_q_ref.
//
// x is widened once to int16 (zero padded to a multiple of 16); each group of 16 weights of a
// row is sign-extended to int16 and multiplied with vpmaddwd, 4 rows at a time. Accumulation:
// int32 lanes within the pair budget of the storage widths (int8 x int8: 65,535 pair sums per
// lane, then flushed to int64) or under acc32; int16 x int16 otherwise widens every pair sum
// (minus 2^16, added back) to int64. Row sums and requantization in scalar int64 (one per
// output, negligible next to the in * out products).
#include <algorithm>
#include <cstring>

#include "kernels/avx2_common.h"

namespace shrink::rt::kernels {
namespace {

/// 16 weights starting at k as int16 (sign-extended from int8 or loaded as int16).
SHRINK_AVX2 inline __m256i load_w16(const int8_t* w) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
}
SHRINK_AVX2 inline __m256i load_w16(const int16_t* w) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
}

/// The last K % 16 weights of a row, zero padded.
template <typename TW>
SHRINK_AVX2 inline __m256i load_w16_tail(const TW* w, int rem) {
  TW tmp[16] = {};
  std::memcpy(tmp, w, static_cast<size_t>(rem) * sizeof(TW));
  return load_w16(tmp);
}

template <typename TW, int MR>
SHRINK_AVX2 void rows32(const TW* w, int K, const int16_t* xs, int64_t budget, int64_t* sums) {
  const int kfull = K / 16 * 16, rem = K - kfull;
  // Blocks of at most `budget` pair sums per lane (16 weights each), flushed to int64.
  const int block = static_cast<int>(std::min<int64_t>(budget, (kfull + 15) / 16 + 1) * 16);
  for (int r = 0; r < MR; ++r) sums[r] = 0;
  for (int k0 = 0; k0 < kfull; k0 += block) {
    const int k1 = std::min(kfull, k0 + block);
    __m256i acc[MR];
    for (int r = 0; r < MR; ++r) acc[r] = _mm256_setzero_si256();
    for (int k = k0; k < k1; k += 16) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + k));
      for (int r = 0; r < MR; ++r)
        acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(load_w16(w + static_cast<size_t>(r) * K + k), xv));
    }
    for (int r = 0; r < MR; ++r) sums[r] += hsum32_64(acc[r]);
  }
  if (rem) {
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + kfull));
    for (int r = 0; r < MR; ++r)
      sums[r] += hsum32_64(_mm256_madd_epi16(load_w16_tail(w + static_cast<size_t>(r) * K + kfull, rem), xv));
  }
}

template <typename TW, int MR>
SHRINK_AVX2 void rows64(const TW* w, int K, const int16_t* xs, int64_t* sums) {
  const int kfull = K / 16 * 16, rem = K - kfull;
  __m256i lo[MR], hi[MR];
  for (int r = 0; r < MR; ++r) lo[r] = hi[r] = _mm256_setzero_si256();
  int64_t steps = 0;
  for (int k = 0; k < kfull; k += 16, ++steps) {
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + k));
    for (int r = 0; r < MR; ++r)
      add_pairs64(_mm256_madd_epi16(load_w16(w + static_cast<size_t>(r) * K + k), xv), lo[r], hi[r]);
  }
  if (rem) {
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + kfull));
    for (int r = 0; r < MR; ++r)
      add_pairs64(_mm256_madd_epi16(load_w16_tail(w + static_cast<size_t>(r) * K + kfull, rem), xv), lo[r], hi[r]);
    ++steps;
  }
  for (int r = 0; r < MR; ++r)
    sums[r] = hsum64(_mm256_add_epi64(lo[r], hi[r])) + steps * 8 * int64_t{kPairOffset};
}

template <typename TW>
SHRINK_AVX2 void dense(const DenseParams& p, const QIn& x, const TW* w, const QWeights& wq, const QOut& y,
                       void* scratch) {
  const int K = p.in, kpad = (K + 15) / 16 * 16;
  auto* cur = static_cast<unsigned char*>(scratch);
  auto* xs = static_cast<int16_t*>(carve(cur, static_cast<size_t>(kpad) * 2));
  const OutClamp oc = out_clamp(y.bits, y.fl, p.act);
  const int64_t budget = int32_pair_budget(x.bits, wq.bits, wq.acc32);
  const bool xs16 = storage_is_s16(x.bits), ys16 = storage_is_s16(y.bits);
  for (int k = K; k < kpad; ++k) xs[k] = 0;
  for (int n = 0; n < p.n; ++n) {
    const size_t xn = static_cast<size_t>(n) * K;
    if (xs16) std::memcpy(xs, static_cast<const int16_t*>(x.data) + xn, static_cast<size_t>(K) * 2);
    else widen_s16(static_cast<const int8_t*>(x.data) + xn, K, xs);
    for (int o0 = 0; o0 < p.out; o0 += 4) {
      const int mr = std::min(4, p.out - o0);
      const TW* wr = w + static_cast<size_t>(o0) * K;
      int64_t sums[4];
      if (budget > 0) {
        switch (mr) {
          case 4: rows32<TW, 4>(wr, K, xs, budget, sums); break;
          case 3: rows32<TW, 3>(wr, K, xs, budget, sums); break;
          case 2: rows32<TW, 2>(wr, K, xs, budget, sums); break;
          default: rows32<TW, 1>(wr, K, xs, budget, sums); break;
        }
      } else {
        switch (mr) {
          case 4: rows64<TW, 4>(wr, K, xs, sums); break;
          case 3: rows64<TW, 3>(wr, K, xs, sums); break;
          case 2: rows64<TW, 2>(wr, K, xs, sums); break;
          default: rows64<TW, 1>(wr, K, xs, sums); break;
        }
      }
      for (int r = 0; r < mr; ++r) {
        const int o = o0 + r;
        const int64_t acc = sums[r] + (wq.bias ? wq.bias[o] : 0);
        store_q(y.data, ys16, static_cast<size_t>(n) * p.out + o, requant_clamp_small(acc, channel_shift(wq, x.fl, y.fl, o), oc));
      }
    }
  }
}

}  // namespace

size_t dense_q_avx2_scratch(const DenseParams& p, int x_bits, int w_bits) {
  return carve_size(static_cast<size_t>((p.in + 15) / 16 * 16) * 2);
}

bool dense_q_avx2(const DenseParams& p, const QIn& x, const void* w, const QWeights& wq, const QOut& y,
                  void* scratch) {
  if (storage_is_s16(wq.bits)) dense(p, x, static_cast<const int16_t*>(w), wq, y, scratch);
  else dense(p, x, static_cast<const int8_t*>(w), wq, y, scratch);
  return true;
}

}  // namespace shrink::rt::kernels
