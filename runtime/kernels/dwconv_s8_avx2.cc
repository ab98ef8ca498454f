// Depthwise convolution (one input channel per group, any channel multiplier), int8 input and
// int8 weights, on AVX2. Bit-exact with conv2d_q_ref.
//
// Each input channel is first copied into a zero-padded int16 plane whose columns are split
// into stride_w phases (avx2_common.h: PadPlane), so that the input columns of 16 neighbouring
// outputs are 16 consecutive int16 for every tap, whatever the stride, dilation and padding. Taps are taken
// two at a time: vpunpck{l,h}wd interleaves their inputs and vpmaddwd multiplies by the
// (w0, w1) pair, giving exact int32 pair sums (|pair| <= 2^15; a lane holds at most 65,535 of
// them, so int32 is exact). Requantization in int64 lanes (avx2_common.h).
#include <algorithm>
#include <cstring>

#include "kernels/avx2_common.h"

namespace shrink::rt::kernels {
namespace {

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
  const size_t row_step = pp.row_step(p);
  alignas(32) int64_t acc64[16];

  for (int n = 0; n < p.n; ++n) {
    for (int ic = 0; ic < p.in_c; ++ic) {
      build_plane(p, pp, xs + (static_cast<size_t>(n) * p.in_c + ic) * in_plane, plane);
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
        const RowRequant rq = row_requant(shift, oc);
        const int64_t bias = wq.bias ? wq.bias[c] : 0;
        RowRequant32 rq32;
        const bool fast32 = row_requant32(shift, oc, bias, wq.acc32 ? 0 : (int64_t{taps} << 14), &rq32);
        const size_t yc = (static_cast<size_t>(n) * p.out_c + c) * out_plane;
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
            const int count = std::min(16, p.out_w - ow0);
            if (fast32) {
              store16_q(requant8_32(_mm256_permute2x128_si256(lo, hi, 0x20), rq32),
                        requant8_32(_mm256_permute2x128_si256(lo, hi, 0x31), rq32), count, y.data, ys16, dst);
            } else {
              unpacked32_to_64(lo, hi, acc64, false);
              requant_store16(acc64, bias, rq, count, y.data, ys16, dst);
            }
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
  dwconv(p, x, static_cast<const int8_t*>(w), wq, y, scratch);
  return true;
}

}  // namespace shrink::rt::kernels
