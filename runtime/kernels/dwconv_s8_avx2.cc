// Depthwise convolution (one input channel per group, any channel multiplier), int8 input and
// int8 weights, on AVX2. Bit-exact with conv2d_q_ref.
//
// Each input channel is first copied into a zero-padded int16 plane whose columns are split
// into stride_w phases (avx2_common.h: PadPlane), so that the input columns of 16 neighbouring
// outputs are 16 consecutive int16 for every tap, whatever the stride, dilation and padding. Taps are taken
// two at a time: vpunpck{l,h}wd interleaves their inputs and vpmaddwd multiplies by the
// (w0, w1) pair, giving exact int32 pair sums (|pair| <= 2^15; a lane holds at most 65,535 of
// them, so int32 is exact). Requantization in int32 lanes (avx2_common.h: requant8_32); a layer
// with a channel that needs int64 requantization (s > 31, a bias near the int32 limits) is
// declined and runs on the GEMM path. Output widths <= 8 take two rows per vector; stride-1
// inputs up to 32 columns wide refill only the interior of a plane zeroed once.
#include <algorithm>
#include <cstring>

#include "kernels/avx2_common.h"

namespace shrink::rt::kernels {
namespace {

/// 8 int16 at a (low half) and 8 at b (high half).
SHRINK_AVX2 inline __m256i load2x8(const int16_t* a, const int16_t* b) {
  return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))),
                                 _mm_loadu_si128(reinterpret_cast<const __m128i*>(b)), 1);
}

/// Stores 8 in-range int32 values as int8 or int16 at element i of y, `count` <= 8 of them.
SHRINK_AVX2 inline void store8_q(__m256i v, int count, void* y, bool s16, size_t i) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));  // 8 x int16
  alignas(16) int16_t t16[8];
  alignas(16) int8_t t8[16];
  if (s16) {
    auto* d = static_cast<int16_t*>(y) + i;
    if (count == 8) return _mm_storeu_si128(reinterpret_cast<__m128i*>(d), w);
    _mm_store_si128(reinterpret_cast<__m128i*>(t16), w);
    std::memcpy(d, t16, static_cast<size_t>(count) * 2);
  } else {
    auto* d = static_cast<int8_t*>(y) + i;
    const __m128i b = _mm_packs_epi16(w, w);
    if (count == 8) return _mm_storel_epi64(reinterpret_cast<__m128i*>(d), b);
    _mm_store_si128(reinterpret_cast<__m128i*>(t8), b);
    std::memcpy(d, t8, static_cast<size_t>(count));
  }
}

size_t dw_scratch(const Conv2dParams& p) {
  const int pairs = (p.kernel_h * p.kernel_w + 1) / 2;
  return carve_size(PadPlane(p).elems() * 2) + carve_size(static_cast<size_t>(pairs) * 2 * sizeof(int32_t) * 2);
}

SHRINK_AVX2 void dwconv(const Conv2dParams& p, const QIn& x, const int8_t* w, const QWeights& wq, const QOut& y,
                        void* scratch) {
  const PadPlane pp(p);
  const int taps = p.kernel_h * p.kernel_w, pairs = (taps + 1) / 2, mult = p.out_c / p.in_c;
  auto* cur = static_cast<unsigned char*>(scratch);
  auto* plane = static_cast<int16_t*>(carve(cur, pp.elems() * 2));
  auto* offs = static_cast<int32_t*>(carve(cur, static_cast<size_t>(pairs) * 2 * sizeof(int32_t) * 2));
  int32_t* wpair = offs + 2 * pairs;
  // Plane offset of every tap; an odd last tap is paired with itself at weight 0.
  for (int t = 0; t < 2 * pairs; ++t) {
    const int tt = std::min(t, taps - 1);
    offs[t] = static_cast<int32_t>(pp.tap_offset(p, tt / p.kernel_w, tt % p.kernel_w));
  }
  const OutClamp oc = out_clamp(y.bits, y.fl, p.act);
  const auto* xs = static_cast<const int8_t*>(x.data);
  const bool ys16 = storage_is_s16(y.bits);
  const size_t in_plane = static_cast<size_t>(p.in_h) * p.in_w, out_plane = static_cast<size_t>(p.out_h) * p.out_w;
  const size_t row_step = pp.row_step(p), y_end = static_cast<size_t>(p.n) * p.out_c * out_plane;
  // Stride 1 and inputs at most 32 columns wide (the 7 x 7 / 14 x 14 / 28 x 28 layers): the
  // zero border of the plane is the same for every channel, so the plane is zeroed once and
  // each channel rewrites only its input rows, 16 columns per store with the lanes past the
  // row masked to 0 (zeros over zeros). Loads stay inside x (else the row is copied by scalars).
  const int chunks = (p.in_w + 15) / 16;
  const bool quick = p.stride_w == 1 && p.in_w <= 32 && p.pad_left + 16 * chunks <= pp.L;
  const int8_t* x_end = xs + static_cast<size_t>(p.n) * p.in_c * in_plane;
  const int r_lo = std::min(p.pad_top, pp.rows), r_hi = std::min(pp.rows, p.pad_top + p.in_h);
  const __m256i lane = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m256i mask[2] = {_mm256_cmpgt_epi16(_mm256_set1_epi16(static_cast<int16_t>(p.in_w)), lane),
                           _mm256_cmpgt_epi16(_mm256_set1_epi16(static_cast<int16_t>(p.in_w - 16)), lane)};
  if (quick) zero_s16(plane, static_cast<int>(pp.elems()));

  for (int n = 0; n < p.n; ++n) {
    for (int ic = 0; ic < p.in_c; ++ic) {
      const int8_t* xc = xs + (static_cast<size_t>(n) * p.in_c + ic) * in_plane;
      if (!quick) build_plane(p, pp, xc, plane);
      for (int r = r_lo; quick && r < r_hi; ++r) {
        const int8_t* src = xc + static_cast<size_t>(r - p.pad_top) * p.in_w;
        int16_t* dst = plane + static_cast<size_t>(r) * pp.L + p.pad_left;
        for (int j = 0; j < chunks; ++j) {
          if (src + 16 * j + 16 <= x_end) {
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 16 * j), _mm256_and_si256(load16_s16(src + 16 * j), mask[j]));
          } else {
            for (int u = 16 * j; u < std::min(p.in_w, 16 * j + 16); ++u) dst[u] = src[u];
          }
        }
      }
      for (int m = 0; m < mult; ++m) {
        const int c = ic * mult + m;
        const int8_t* wc = w + static_cast<size_t>(c) * taps;
        for (int q = 0; q < pairs; ++q) {
          const int16_t w0 = wc[2 * q];
          const int16_t w1 = 2 * q + 1 < taps ? wc[2 * q + 1] : 0;
          wpair[q] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(w0)) |
                                          (static_cast<uint32_t>(static_cast<uint16_t>(w1)) << 16));
        }
        const int shift = channel_shift(wq, x.fl, y.fl, c);
        const int64_t bias = wq.bias ? wq.bias[c] : 0;
        RowRequant32 rq32{};  // int32 form: checked for every channel by dwconv_q_avx2
        row_requant32(shift, oc, bias, wq.acc32 ? 0 : (int64_t{taps} << 14), &rq32);
        fold_rounding(&rq32, int64_t{taps} << 14);
        const size_t yc = (static_cast<size_t>(n) * p.out_c + c) * out_plane;
        if (p.out_w <= 8) {
          // Narrow planes (7 x 7, 4 x 4 ...): two output rows per vector, 8 lanes each (the
          // second row repeats the first at an odd end and is not stored).
          for (int oh = 0; oh < p.out_h; oh += 2) {
            const bool two = oh + 1 < p.out_h;
            const int16_t* b0 = plane + static_cast<size_t>(oh) * row_step;
            const int16_t* b1 = two ? b0 + row_step : b0;
            __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
            for (int q = 0; q < pairs; ++q) {
              const __m256i a = load2x8(b0 + offs[2 * q], b1 + offs[2 * q]);
              const __m256i b = load2x8(b0 + offs[2 * q + 1], b1 + offs[2 * q + 1]);
              const __m256i wv = _mm256_set1_epi32(wpair[q]);
              lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), wv));
              hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), wv));
            }
            // lo = (row 0 px 0-3 | row 1 px 0-3), hi = (px 4-7 of both rows).
            const size_t dst0 = yc + static_cast<size_t>(oh) * p.out_w, dst1 = dst0 + p.out_w;
            // Stores in increasing order: 8 lanes past a row only hit outputs written later.
            const int n0 = dst0 + 8 <= y_end ? 8 : p.out_w, n1 = dst1 + 8 <= y_end ? 8 : p.out_w;
            store8_q(requant8_32(_mm256_permute2x128_si256(lo, hi, 0x20), rq32), n0, y.data, ys16, dst0);
            if (two) store8_q(requant8_32(_mm256_permute2x128_si256(lo, hi, 0x31), rq32), n1, y.data, ys16, dst1);
          }
          continue;
        }
        for (int oh = 0; oh < p.out_h; ++oh) {
          const int16_t* base = plane + static_cast<size_t>(oh) * row_step;
          for (int ow0 = 0; ow0 < p.out_w; ow0 += 16) {
            __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
            for (int q = 0; q < pairs; ++q) {
              const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + offs[2 * q] + ow0));
              const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + offs[2 * q + 1] + ow0));
              const __m256i wv = _mm256_set1_epi32(wpair[q]);
              lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), wv));
              hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), wv));
            }
            const size_t dst = yc + static_cast<size_t>(oh) * p.out_w + ow0;
            // Outputs are written in increasing order (rows, then channels, then batch), so a
            // full 16-wide store past the row only hits outputs written later; the partial
            // store is needed at the end of the tensor only.
            const int count = dst + 16 <= y_end ? 16 : std::min(16, p.out_w - ow0);
            store16_q(requant8_32(_mm256_permute2x128_si256(lo, hi, 0x20), rq32),
                      requant8_32(_mm256_permute2x128_si256(lo, hi, 0x31), rq32), count, y.data, ys16, dst);
          }
        }
      }
    }
  }
}

}  // namespace

size_t dwconv_q_avx2_scratch(const Conv2dParams& p, int x_bits, int w_bits) {
  return dw_scratch(p);
}

bool dwconv_q_avx2(const Conv2dParams& p, const QIn& x, const void* w, const QWeights& wq, const QOut& y,
                   void* scratch) {
  if (storage_is_s16(x.bits) || storage_is_s16(wq.bits) || y.bits > 16 || !is_depthwise(p)) return false;
  const int pairs = (p.kernel_h * p.kernel_w + 1) / 2;
  if (!wq.acc32 && pairs > 65535) return false;  // int32 lanes would not be provably exact
  // Requantization in int32 lanes only: a channel with s > 31 or a bias too close to the int32
  // limits (never in practice) sends the layer to the GEMM path.
  const OutClamp oc = out_clamp(y.bits, y.fl, p.act);
  const int64_t bound = wq.acc32 ? 0 : int64_t{p.kernel_h * p.kernel_w} << 14;
  RowRequant32 r;
  for (int c = 0; c < p.out_c; ++c)
    if (!row_requant32(channel_shift(wq, x.fl, y.fl, c), oc, wq.bias ? wq.bias[c] : 0, bound, &r)) return false;
  dwconv(p, x, static_cast<const int8_t*>(w), wq, y, scratch);
  return true;
}

}  // namespace shrink::rt::kernels
