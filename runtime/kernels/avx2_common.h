// Helpers shared by the AVX2 kernels (*_avx2.cc, compiled on x86-64 only). Every function has
// internal linkage and the avx2 target attribute, so no AVX2 code can leak into the scalar
// build through an inline function the linker merges.
//
//   RowRequant rq = row_requant(/*shift=*/5, /*bits=*/8, clamp);
//   requant_store16(acc64, bias, rq, /*count=*/16, y_row);   // 16 outputs, same integers as requant_clamp
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/internal.h"

#define SHRINK_AVX2 __attribute__((target("avx2,fma")))

namespace shrink::rt::kernels {
namespace {

/// Requantization of one output channel (same shift for every pixel).
struct RowRequant {
  int mode;        // 0: result 0 (shift >= 63); 1: rounding right shift; 2: saturating left shift
  int shift;       // mode 1: s in [1, 62]; mode 2: min(-s, 20)
  int64_t lo, hi;  // output clamp (B_y saturation and fused activation), B_y <= 16
};

inline RowRequant row_requant(int s, const OutClamp& c) {
  RowRequant r{0, 0, c.lo, c.hi};
  if (s >= 63) {
    r.mode = 0;
  } else if (s > 0) {
    r.mode = 1;
    r.shift = s;
  } else {
    // acc * 2^up saturated to at most 16 bits: clamping acc to +-2^17 first and shifting by
    // min(up, 20) gives the same result (any nonzero value shifted by 20 saturates anyway).
    r.mode = 2;
    r.shift = -s < 20 ? -s : 20;
  }
  return r;
}

/// max / min of int64 lanes.
SHRINK_AVX2 inline __m256i max64(__m256i a, __m256i b) { return _mm256_blendv_epi8(b, a, _mm256_cmpgt_epi64(a, b)); }
SHRINK_AVX2 inline __m256i min64(__m256i a, __m256i b) { return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(a, b)); }

/// Four int64 accumulators (|acc| < 2^62) -> requantized and clamped, as requant_clamp.
SHRINK_AVX2 inline __m256i requant4(__m256i acc, const RowRequant& r) {
  __m256i y;
  if (r.mode == 0) {
    y = _mm256_setzero_si256();
  } else if (r.mode == 1) {
    // floor((acc + 2^(s-1)) / 2^s): logical shift, then sign extension from bit 63 - s.
    const __m256i t = _mm256_add_epi64(acc, _mm256_set1_epi64x(int64_t{1} << (r.shift - 1)));
    const __m256i u = _mm256_srl_epi64(t, _mm_cvtsi32_si128(r.shift));
    const __m256i m = _mm256_set1_epi64x(int64_t{1} << (63 - r.shift));
    y = _mm256_sub_epi64(_mm256_xor_si256(u, m), m);
  } else {
    const __m256i lim = _mm256_set1_epi64x(int64_t{1} << 17);
    const __m256i t = min64(max64(acc, _mm256_sub_epi64(_mm256_setzero_si256(), lim)), lim);
    y = _mm256_sll_epi64(t, _mm_cvtsi32_si128(r.shift));
  }
  return min64(max64(y, _mm256_set1_epi64x(r.lo)), _mm256_set1_epi64x(r.hi));
}

/// Low 32 bits of the int64 lanes of a (px 0-3) and b (px 4-7) -> 8 int32 in order.
SHRINK_AVX2 inline __m256i narrow64x2(__m256i a, __m256i b) {
  const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  return _mm256_permute2x128_si256(_mm256_permutevar8x32_epi32(a, idx),
                                   _mm256_permutevar8x32_epi32(b, idx), 0x20);
}

/// Stores 16 in-range int32 values (lo = 0-7, hi = 8-15) as int8 or int16, `count` <= 16 of them.
SHRINK_AVX2 inline void store16(__m256i lo, __m256i hi, int count, int8_t* dst) {
  const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);  // 16 x int16
  const __m256i b = _mm256_permute4x64_epi64(_mm256_packs_epi16(w, _mm256_setzero_si256()), 0x08);
  const __m128i v = _mm256_castsi256_si128(b);
  if (count == 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), v);
  } else {
    alignas(16) int8_t tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), v);
    std::memcpy(dst, tmp, static_cast<size_t>(count));
  }
}
SHRINK_AVX2 inline void store16(__m256i lo, __m256i hi, int count, int16_t* dst) {
  const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
  if (count == 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), w);
  } else {
    alignas(32) int16_t tmp[16];
    _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), w);
    std::memcpy(dst, tmp, static_cast<size_t>(count) * 2);
  }
}

/// store16 into element i of an int8 (s16 false) or int16 tensor.
SHRINK_AVX2 inline void store16_q(__m256i lo, __m256i hi, int count, void* y, bool s16, size_t i) {
  if (s16) store16(lo, hi, count, static_cast<int16_t*>(y) + i);
  else store16(lo, hi, count, static_cast<int8_t*>(y) + i);
}

/// acc[0..15] + bias -> requantized, clamped, stored at element i of y (count <= 16 values).
SHRINK_AVX2 inline void requant_store16(const int64_t* acc, int64_t bias, const RowRequant& r, int count, void* y,
                                        bool s16, size_t i) {
  const __m256i b = _mm256_set1_epi64x(bias);
  __m256i q[4];
  for (int k = 0; k < 4; ++k)
    q[k] = requant4(_mm256_add_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + 4 * k)), b), r);
  store16_q(narrow64x2(q[0], q[1]), narrow64x2(q[2], q[3]), count, y, s16, i);
}

/// Requantization in int32 lanes, for accumulators known to fit int32 together with the bias
/// (the caller checks |acc| bound + |bias| < 2^31). Same integers as requant_clamp:
/// s in [1, 31]: floor(t / 2^s) + bit s-1 of t (= floor((t + 2^(s-1)) / 2^s), no overflow);
/// s <= 0: t clamped to +-2^15 then shifted left by min(-s, 15) (saturates as the exact product
/// would, outputs have at most 16 bits); s >= 32: the int64 path (not used here).
struct RowRequant32 {
  int mode;  // 1: right shift, 2: left shift, 3: right shift with the rounding in the bias
  int shift;
  int32_t bias, lo, hi;
};

/// Whether a channel can use RowRequant32: acc_bound + |bias| < 2^31 and s <= 31.
inline bool row_requant32(int s, const OutClamp& c, int64_t bias, int64_t acc_bound, RowRequant32* r) {
  if (s > 31 || acc_bound + (bias < 0 ? -bias : bias) >= (int64_t{1} << 31)) return false;
  r->mode = s > 0 ? 1 : 2;
  r->shift = s > 0 ? s : (-s < 15 ? -s : 15);
  r->bias = static_cast<int32_t>(bias);
  r->lo = static_cast<int32_t>(c.lo);
  r->hi = static_cast<int32_t>(c.hi);
  return true;
}

/// Folds the rounding constant 2^(s-1) into the bias (mode 3: one arithmetic shift) when
/// |acc| <= storage_bound (the bound by storage widths alone, whatever the acc32 promise says)
/// keeps acc + bias + 2^(s-1) inside int32.
inline void fold_rounding(RowRequant32* r, int64_t storage_bound) {
  if (r->mode != 1) return;
  const int64_t b = int64_t{r->bias} + (int64_t{1} << (r->shift - 1));
  if (storage_bound + (b < 0 ? -b : b) >= (int64_t{1} << 31)) return;
  r->mode = 3;
  r->bias = static_cast<int32_t>(b);
}

SHRINK_AVX2 inline __m256i requant8_32(__m256i acc, const RowRequant32& r) {
  const __m256i t = _mm256_add_epi32(acc, _mm256_set1_epi32(r.bias));
  __m256i y;
  if (r.mode == 3) {
    y = _mm256_sra_epi32(t, _mm_cvtsi32_si128(r.shift));  // floor((acc + bias + 2^(s-1)) / 2^s)
  } else if (r.mode == 1) {
    const __m256i half = _mm256_and_si256(_mm256_sra_epi32(t, _mm_cvtsi32_si128(r.shift - 1)), _mm256_set1_epi32(1));
    y = _mm256_add_epi32(_mm256_sra_epi32(t, _mm_cvtsi32_si128(r.shift)), half);
  } else {
    const __m256i lim = _mm256_set1_epi32(1 << 15);
    y = _mm256_min_epi32(_mm256_max_epi32(t, _mm256_sub_epi32(_mm256_setzero_si256(), lim)), lim);
    y = _mm256_sll_epi32(y, _mm_cvtsi32_si128(r.shift));
  }
  return _mm256_min_epi32(_mm256_max_epi32(y, _mm256_set1_epi32(r.lo)), _mm256_set1_epi32(r.hi));
}

/// Two int32 vectors in unpack order (a = px 0-3 | 8-11, b = px 4-7 | 12-15, as produced by
/// vpmaddwd on unpacklo / unpackhi pairs) -> 16 int64 in pixel order, stored or added to out.
SHRINK_AVX2 inline void unpacked32_to_64(__m256i a, __m256i b, int64_t* out, bool add) {
  __m256i v[4] = {_mm256_cvtepi32_epi64(_mm256_castsi256_si128(a)), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(b)),
                  _mm256_cvtepi32_epi64(_mm256_extracti128_si256(a, 1)),
                  _mm256_cvtepi32_epi64(_mm256_extracti128_si256(b, 1))};
  for (int i = 0; i < 4; ++i) {
    __m256i* o = reinterpret_cast<__m256i*>(out + 4 * i);
    _mm256_storeu_si256(o, add ? _mm256_add_epi64(_mm256_loadu_si256(o), v[i]) : v[i]);
  }
}

/// Sum of the 8 int32 lanes, in int64 (the lanes may each be near 2^31).
SHRINK_AVX2 inline int64_t hsum32_64(__m256i v) {
  const __m256i w = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)),
                                     _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
  alignas(32) int64_t t[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), w);
  return t[0] + t[1] + t[2] + t[3];
}
SHRINK_AVX2 inline int64_t hsum64(__m256i v) {
  alignas(32) int64_t t[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), v);
  return t[0] + t[1] + t[2] + t[3];
}

/// A vpmaddwd pair sum of int16 x int16 lies in [-2^31 + 2^16, 2^31]; only +2^31 wraps. Minus
/// this offset every pair sum fits int32 exactly; the caller adds the offsets back in int64.
constexpr int32_t kPairOffset = 65536;
/// Widens (pair sums - kPairOffset) to int64 and adds them to two int64 accumulators
/// (lo = lanes 0-3, hi = lanes 4-7).
SHRINK_AVX2 inline void add_pairs64(__m256i pair_sums, __m256i& lo, __m256i& hi) {
  const __m256i s = _mm256_sub_epi32(pair_sums, _mm256_set1_epi32(kPairOffset));
  lo = _mm256_add_epi64(lo, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(s)));
  hi = _mm256_add_epi64(hi, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(s, 1)));
}

/// How many vpmaddwd pair sums one int32 lane may accumulate without overflow: unlimited
/// (INT32_MAX) under the acc32 promise, else 2^31 / (2 * max|x| * max|w|) by storage width;
/// 0 means int16 x int16 needs the int64 path.
inline int64_t int32_pair_budget(int x_bits, int w_bits, bool acc32) {
  if (acc32) return INT32_MAX;
  const int sx = storage_is_s16(x_bits) ? 15 : 7, sw = storage_is_s16(w_bits) ? 15 : 7;
  return ((int64_t{1} << 31) - 1) >> (sx + sw + 1);
}

/// Zero-padded int16 copies of input planes, with the columns split into stride_w phases, so
/// that the inputs under one kernel tap for consecutive output columns are consecutive int16:
/// plane[(r * sw + ph) * L + t] = x[r - pad_top][t * sw + ph - pad_left] (0 outside the input),
/// r < rows. Input (oh, ow) under tap (i, j) is at tap_offset(i, j) + oh * row_step() + ow.
/// L leaves 16 columns of slack, so a 16-wide load starting at any ow < out_w stays inside.
struct PadPlane {
  int rows, sw, L;
  explicit PadPlane(const Conv2dParams& p)
      : rows((p.out_h - 1) * p.stride_h + (p.kernel_h - 1) * p.dilation_h + 1),
        sw(p.stride_w),
        L(p.out_w + 16 + ((p.kernel_w - 1) * p.dilation_w) / p.stride_w) {}
  size_t elems() const { return static_cast<size_t>(rows) * sw * L; }
  size_t row_step(const Conv2dParams& p) const { return static_cast<size_t>(p.stride_h) * sw * L; }
  size_t tap_offset(const Conv2dParams& p, int i, int j) const {
    const int cj = j * p.dilation_w;
    return (static_cast<size_t>(i) * p.dilation_h * sw + static_cast<size_t>(cj % sw)) * L + static_cast<size_t>(cj / sw);
  }
};

SHRINK_AVX2 inline __m256i load16_s16(const int8_t* s) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s)));
}
SHRINK_AVX2 inline __m256i load16_s16(const int16_t* s) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
}

/// d[0..n) = 0.
SHRINK_AVX2 inline void zero_s16(int16_t* d, int n) {
  if (n < 16) {
    for (int i = 0; i < n; ++i) d[i] = 0;
    return;
  }
  const __m256i z = _mm256_setzero_si256();
  for (int i = 0; i + 16 <= n; i += 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), z);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + n - 16), z);
}

/// d[0..n) = s[0..n) widened to int16; reads nothing outside s[0..n).
template <typename TX>
SHRINK_AVX2 inline void widen_s16(const TX* s, int n, int16_t* d) {
  if (n < 16) {
    for (int i = 0; i < n; ++i) d[i] = s[i];
    return;
  }
  for (int i = 0; i + 16 <= n; i += 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), load16_s16(s + i));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + n - 16), load16_s16(s + n - 16));
}

/// Even and odd elements of s[0..16) as int16 (8 each).
SHRINK_AVX2 inline void deinterleave16(const int8_t* s, __m128i* even, __m128i* odd) {
  const __m128i split = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  const __m128i q = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s)), split);
  *even = _mm_cvtepi8_epi16(q);
  *odd = _mm_cvtepi8_epi16(_mm_srli_si128(q, 8));
}
SHRINK_AVX2 inline void deinterleave16(const int16_t* s, __m128i* even, __m128i* odd) {
  const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 8));
  const __m128i lo16 = _mm_set1_epi32(0xFFFF);
  *even = _mm_packus_epi32(_mm_and_si128(a, lo16), _mm_and_si128(b, lo16));
  *odd = _mm_packus_epi32(_mm_srli_epi32(a, 16), _mm_srli_epi32(b, 16));
}

/// Fills one PadPlane from one input channel xc (in_h x in_w). Reads only inside xc.
template <typename TX>
SHRINK_AVX2 void build_plane(const Conv2dParams& p, const PadPlane& pp, const TX* xc, int16_t* plane) {
  const int sw = pp.sw, L = pp.L, width = sw * L, lead = std::min(p.pad_left, width);
  // Input columns c that land in the padded row: c + pad_left in [0, width).
  const int c_end = std::max(0, std::min(p.in_w, width - p.pad_left));
  for (int r = 0; r < pp.rows; ++r) {
    const int ih = r - p.pad_top;
    int16_t* dst = plane + static_cast<size_t>(r) * width;
    if (ih < 0 || ih >= p.in_h) {
      zero_s16(dst, width);
      continue;
    }
    const TX* src = xc + static_cast<size_t>(ih) * p.in_w;
    if (sw == 1) {
      zero_s16(dst, lead);
      widen_s16(src, c_end, dst + lead);
      zero_s16(dst + lead + c_end, width - lead - c_end);
      continue;
    }
    // Phase ph, column t holds input column t * sw + ph - pad_left.
    auto value = [&](int c) -> int16_t { return c >= 0 && c < c_end ? static_cast<int16_t>(src[c]) : int16_t{0}; };
    if (sw == 2) {
      // Columns t in [ta, tb) read input columns 2t - pad_left and 2t + 1 - pad_left inside
      // [0, c_end): 8 at a time (the last block overlapping), the rest one by one.
      int16_t* d0 = dst;
      int16_t* d1 = dst + L;
      const int ta = std::min(L, (p.pad_left + 1) / 2);
      const int tb = std::clamp((c_end + p.pad_left) / 2, ta, L);
      auto block = [&](int t) {
        __m128i ev, od;
        deinterleave16(src + 2 * t - p.pad_left, &ev, &od);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d0 + t), ev);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d1 + t), od);
      };
      int t = 0;
      for (; t < ta; ++t) d0[t] = value(2 * t - p.pad_left), d1[t] = value(2 * t + 1 - p.pad_left);
      if (tb - ta >= 8) {
        for (; t + 8 <= tb; t += 8) block(t);
        if (t < tb) block(tb - 8);
        t = tb;
      }
      for (; t < L && 2 * t - p.pad_left < c_end; ++t) d0[t] = value(2 * t - p.pad_left), d1[t] = value(2 * t + 1 - p.pad_left);
      zero_s16(d0 + t, L - t);  // past the input: padding and slack
      zero_s16(d1 + t, L - t);
    } else {
      for (int ph = 0; ph < sw; ++ph)
        for (int t = 0; t < L; ++t) dst[ph * L + t] = value(t * sw + ph - p.pad_left);
    }
  }
}

}  // namespace
}  // namespace shrink::rt::kernels
