// Integer convolution on AVX2 as a GEMM: output channels x output pixels, with vpmaddwd on
// int16 pairs (exact int16 x int16 -> int32 pair sums; no vpmaddubsw, no saturating
// instruction anywhere). Any mix of int8 / int16 inputs and weights, any groups.
//
// Per group: the input channels are copied once into zero-padded int16 planes (PadPlane), so
// that an im2col row segment is a plain vector copy; tiles of NT output pixels are packed
// from them as (tap 2kp, tap 2kp + 1) int16 pairs in pixel order, and the weights as
// (w[c][2kp], w[c][2kp + 1]) pairs. A microkernel computes 4 channels x 16 pixels.
//
// Accumulation (bit-exact with conv2d_q_ref):
// - int32 lanes while the storage widths prove no overflow (int8 x int8: up to 65,535 pair
//   sums per lane, then flushed to int64; int8 x int16: 255) or under the acc32 promise;
// - int16 x int16 otherwise: each pair sum minus 2^16 (which always fits int32) is widened to
//   int64, and the offsets are added back at the end.
// Requantization in int64 lanes (avx2_common.h: requant4).
#include <algorithm>
#include <cstring>

#include "kernels/avx2_common.h"

namespace shrink::rt::kernels {
namespace {

constexpr int kMR = 4;    // output channels per microkernel call (int32 mode)
constexpr int kMR64 = 2;  // int64 mode (more accumulators per channel)
constexpr size_t kTileBytes = 96 * 1024;

struct Plan {
  int cin_g, cout_g, K, Kp, P, NT;
};

/// Requantization of one output channel: the int32 form when the accumulator bound allows it.
struct ChanRq {
  bool fast32;
  RowRequant32 r32;
  RowRequant r64;
  int64_t bias;
};

Plan make_plan(const Conv2dParams& p) {
  Plan pl{};
  pl.cin_g = p.in_c / p.groups;
  pl.cout_g = p.out_c / p.groups;
  pl.K = pl.cin_g * p.kernel_h * p.kernel_w;
  pl.Kp = (pl.K + 1) / 2;
  pl.P = p.out_h * p.out_w;
  const int p16 = (pl.P + 15) / 16 * 16;
  const int nt = static_cast<int>(kTileBytes / (static_cast<size_t>(pl.Kp) * 4)) / 16 * 16;
  pl.NT = std::max(16, std::min(nt, std::min(p16, 1024)));
  return pl;
}

size_t scratch_bytes(const Conv2dParams& p, const Plan& pl) {
  return carve_size(static_cast<size_t>(pl.cout_g) * sizeof(ChanRq)) +  // per-channel requantization
         carve_size(static_cast<size_t>(pl.cout_g + kMR - 1) * pl.Kp * 4) +  // packed weights + zero rows
         carve_size((static_cast<size_t>(pl.Kp) * pl.NT + 16) * 4) +     // packed tile (+ store slack)
         carve_size(static_cast<size_t>(pl.cin_g) * PadPlane(p).elems() * 2);  // padded planes
}

/// Packs the tile of output pixels p0 .. p0 + nt16 - 1 (row-major over out_h x out_w; beyond
/// P zero): bt[kp * NT + t] = int16 pair (tap 2kp, tap 2kp + 1) under pixel p0 + t. An odd
/// last tap is paired with itself; its weight partner is 0.
SHRINK_AVX2 void pack_tile(const Conv2dParams& p, const Plan& pl, const PadPlane& pp, const int16_t* planes,
                           int p0, int nt16, int32_t* bt) {
  const int kk = p.kernel_h * p.kernel_w;
  const size_t plane_elems = pp.elems(), row_step = pp.row_step(p);
  const int end = std::min(p0 + nt16, pl.P);
  for (int kp = 0; kp < pl.Kp; ++kp) {
    const int ka = 2 * kp, kb = std::min(2 * kp + 1, pl.K - 1);
    const int16_t* base_a = planes + static_cast<size_t>(ka / kk) * plane_elems +
                            pp.tap_offset(p, (ka % kk) / p.kernel_w, ka % p.kernel_w);
    const int16_t* base_b = planes + static_cast<size_t>(kb / kk) * plane_elems +
                            pp.tap_offset(p, (kb % kk) / p.kernel_w, kb % p.kernel_w);
    int32_t* dst = bt + static_cast<size_t>(kp) * pl.NT;
    int q = p0, t = 0;
    while (q < end) {
      const int oh = q / p.out_w, ow0 = q % p.out_w;
      const int seg = std::min(p.out_w - ow0, end - q);
      const int16_t* sa = base_a + static_cast<size_t>(oh) * row_step + ow0;
      const int16_t* sb = base_b + static_cast<size_t>(oh) * row_step + ow0;
      // 16 pixels per step; the last step may write past the segment (overwritten by the next
      // segment, the next kp row, the zero fill below or the slack at the end of bt).
      for (int u = 0; u < seg; u += 16) {
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sa + u));
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + u));
        const __m256i lo = _mm256_unpacklo_epi16(a, b), hi = _mm256_unpackhi_epi16(a, b);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + t + u), _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + t + u + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
      }
      q += seg;
      t += seg;
    }
    for (; t < nt16; ++t) dst[t] = 0;
  }
}

/// pack_tile for a 1x1, stride 1, unpadded convolution, straight from the input channels of
/// the group (xg: K planes of P pixels): bt[kp * NT + t] = (xg[2kp][p0 + t], xg[2kp + 1][p0 + t]),
/// 0 beyond P; an odd last channel is paired with itself (its weight partner is 0). Reads
/// nothing outside the K planes.
template <typename TX>
SHRINK_AVX2 void pack_tile_1x1(const Plan& pl, const TX* xg, int p0, int nt16, int32_t* bt) {
  for (int kp = 0; kp < pl.Kp; ++kp) {
    const TX* xa = xg + static_cast<size_t>(2 * kp) * pl.P + p0;
    const TX* xb = xg + static_cast<size_t>(std::min(2 * kp + 1, pl.K - 1)) * pl.P + p0;
    int32_t* dst = bt + static_cast<size_t>(kp) * pl.NT;
    for (int t = 0; t < nt16; t += 16) {
      __m256i a, b;
      if (p0 + t + 16 <= pl.P) {
        a = load16_s16(xa + t);
        b = load16_s16(xb + t);
      } else {
        alignas(32) int16_t ta[16] = {}, tb[16] = {};
        for (int u = 0; p0 + t + u < pl.P && u < 16; ++u) ta[u] = xa[t + u], tb[u] = xb[t + u];
        a = _mm256_load_si256(reinterpret_cast<const __m256i*>(ta));
        b = _mm256_load_si256(reinterpret_cast<const __m256i*>(tb));
      }
      const __m256i lo = _mm256_unpacklo_epi16(a, b), hi = _mm256_unpackhi_epi16(a, b);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + t), _mm256_permute2x128_si256(lo, hi, 0x20));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + t + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
    }
  }
}

/// Packs the weights of one group: ap[m][kp] = int16 pair (w[m][2kp], w[m][2kp + 1]). A row
/// widened to int16 is already that layout (little endian: the even tap in the low half); an
/// odd K gets a 0 partner for its last tap. Vector stores and memcpy only (ap is read as int32).
template <typename TW>
SHRINK_AVX2 void pack_weights(const TW* wg, int M, int K, int Kp, int32_t* ap) {
  for (int m = 0; m < M; ++m) {
    const TW* src = wg + static_cast<size_t>(m) * K;
    auto* dst = reinterpret_cast<unsigned char*>(ap + static_cast<size_t>(m) * Kp);
    int k = 0;
    for (; k + 16 <= K; k += 16) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2 * k), load16_s16(src + k));
    alignas(32) int16_t tail[16] = {};
    for (int i = k; i < K; ++i) tail[i - k] = src[i];
    std::memcpy(dst + 2 * k, tail, static_cast<size_t>(2 * Kp - k) * 2);
  }
}

/// 8 int32 lanes (pixels in order) -> int64, stored or added to out[0..7].
SHRINK_AVX2 inline void lanes32_to_64(__m256i v, int64_t* out, bool add) {
  const __m256i a = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)), b = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1));
  __m256i* o0 = reinterpret_cast<__m256i*>(out);
  __m256i* o1 = reinterpret_cast<__m256i*>(out + 4);
  _mm256_storeu_si256(o0, add ? _mm256_add_epi64(_mm256_loadu_si256(o0), a) : a);
  _mm256_storeu_si256(o1, add ? _mm256_add_epi64(_mm256_loadu_si256(o1), b) : b);
}

/// int32 microkernel: MR channels x 16 pixels over pairs [kp0, kp1) -> out[r][16] (int32).
template <int MR>
SHRINK_AVX2 void ukernel32(const int32_t* ap, int Kp, const int32_t* bt, int NT, int kp0, int kp1,
                           int32_t (*out)[16]) {
  __m256i lo[MR], hi[MR];
  for (int r = 0; r < MR; ++r) lo[r] = hi[r] = _mm256_setzero_si256();
  const int32_t* b = bt + static_cast<size_t>(kp0) * NT;
  for (int kp = kp0; kp < kp1; ++kp, b += NT) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 8));
    for (int r = 0; r < MR; ++r) {
      const __m256i a = _mm256_set1_epi32(ap[static_cast<size_t>(r) * Kp + kp]);
      lo[r] = _mm256_add_epi32(lo[r], _mm256_madd_epi16(b0, a));
      hi[r] = _mm256_add_epi32(hi[r], _mm256_madd_epi16(b1, a));
    }
  }
  for (int r = 0; r < MR; ++r) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(out[r]), lo[r]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out[r] + 8), hi[r]);
  }
}

/// int64 microkernel (int16 x int16 without the acc32 promise): MR channels x 16 pixels, all
/// pairs; acc64 includes the offsets added back.
template <int MR>
SHRINK_AVX2 void ukernel64(const int32_t* ap, int Kp, const int32_t* bt, int NT, int64_t (*acc64)[16]) {
  __m256i acc[MR][4];
  for (int r = 0; r < MR; ++r)
    for (int i = 0; i < 4; ++i) acc[r][i] = _mm256_setzero_si256();
  const int32_t* b = bt;
  for (int kp = 0; kp < Kp; ++kp, b += NT) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 8));
    for (int r = 0; r < MR; ++r) {
      const __m256i a = _mm256_set1_epi32(ap[static_cast<size_t>(r) * Kp + kp]);
      add_pairs64(_mm256_madd_epi16(b0, a), acc[r][0], acc[r][1]);
      add_pairs64(_mm256_madd_epi16(b1, a), acc[r][2], acc[r][3]);
    }
  }
  const __m256i off = _mm256_set1_epi64x(static_cast<int64_t>(Kp) * kPairOffset);
  for (int r = 0; r < MR; ++r)
    for (int i = 0; i < 4; ++i)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc64[r] + 4 * i), _mm256_add_epi64(acc[r][i], off));
}

SHRINK_AVX2 void conv_gemm(const Conv2dParams& p, const QIn& x, const void* w, const QWeights& wq, const QOut& y,
                           void* scratch) {
  const Plan pl = make_plan(p);
  const PadPlane pp(p);
  auto* cur = static_cast<unsigned char*>(scratch);
  auto* rqs = static_cast<ChanRq*>(carve(cur, static_cast<size_t>(pl.cout_g) * sizeof(ChanRq)));
  // Packed weights, followed by kMR - 1 zero rows: a last block of fewer than kMR channels
  // runs the same 4-channel microkernel (its extra rows are computed and not stored).
  auto* ap = static_cast<int32_t*>(carve(cur, static_cast<size_t>(pl.cout_g + kMR - 1) * pl.Kp * 4));
  std::memset(ap + static_cast<size_t>(pl.cout_g) * pl.Kp, 0, static_cast<size_t>(kMR - 1) * pl.Kp * 4);
  auto* bt = static_cast<int32_t*>(carve(cur, (static_cast<size_t>(pl.Kp) * pl.NT + 16) * 4));
  auto* planes = static_cast<int16_t*>(carve(cur, static_cast<size_t>(pl.cin_g) * pp.elems() * 2));
  const OutClamp oc = out_clamp(y.bits, y.fl, p.act);
  const int64_t budget = int32_pair_budget(x.bits, wq.bits, wq.acc32);
  const bool one_block = budget >= pl.Kp;
  // |sum of products| bound: under acc32 the promise (bias included), else by storage widths.
  const int64_t storage_bound = static_cast<int64_t>(pl.K) << ((storage_is_s16(x.bits) ? 15 : 7) + (storage_is_s16(wq.bits) ? 15 : 7));
  const int64_t acc_bound = wq.acc32 ? 0 : storage_bound;
  const bool xs16 = storage_is_s16(x.bits), ws16 = storage_is_s16(wq.bits), ys16 = storage_is_s16(y.bits);
  const size_t in_plane = static_cast<size_t>(p.in_h) * p.in_w;
  // 1x1, stride 1, no padding: the im2col matrix is x itself (K = input channels, P = pixels).
  const bool pointwise = p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                         p.pad_top == 0 && p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0;
  alignas(32) int64_t acc64[kMR][16];
  alignas(32) int32_t acc32[kMR][16];

  for (int g = 0; g < p.groups; ++g) {
    const int c0 = g * pl.cout_g;
    const size_t w0 = static_cast<size_t>(c0) * pl.K;
    if (ws16) pack_weights(static_cast<const int16_t*>(w) + w0, pl.cout_g, pl.K, pl.Kp, ap);
    else pack_weights(static_cast<const int8_t*>(w) + w0, pl.cout_g, pl.K, pl.Kp, ap);
    for (int m = 0; m < pl.cout_g; ++m) {
      const int c = c0 + m;
      const int s = channel_shift(wq, x.fl, y.fl, c);
      ChanRq& q = rqs[m];
      q.bias = wq.bias ? wq.bias[c] : 0;
      q.r64 = row_requant(s, oc);
      q.fast32 = budget > 0 && one_block && row_requant32(s, oc, q.bias, acc_bound, &q.r32);
      if (q.fast32) fold_rounding(&q.r32, storage_bound);
    }
    for (int n = 0; n < p.n; ++n) {
      const size_t x0 = (static_cast<size_t>(n) * p.in_c + static_cast<size_t>(g) * pl.cin_g) * in_plane;
      for (int ic = 0; ic < pl.cin_g; ++ic) {
        const size_t xi = x0 + ic * in_plane;
        if (pointwise) break;  // packed straight from x below
        if (xs16) build_plane(p, pp, static_cast<const int16_t*>(x.data) + xi, planes + ic * pp.elems());
        else build_plane(p, pp, static_cast<const int8_t*>(x.data) + xi, planes + ic * pp.elems());
      }
      for (int p0 = 0; p0 < pl.P; p0 += pl.NT) {
        const int nt = std::min(pl.NT, pl.P - p0), nt16 = (nt + 15) / 16 * 16;
        if (!pointwise) pack_tile(p, pl, pp, planes, p0, nt16, bt);
        else if (xs16) pack_tile_1x1(pl, static_cast<const int16_t*>(x.data) + x0, p0, nt16, bt);
        else pack_tile_1x1(pl, static_cast<const int8_t*>(x.data) + x0, p0, nt16, bt);
        const int mstep = budget > 0 ? kMR : kMR64;
        for (int m0 = 0; m0 < pl.cout_g; m0 += mstep) {
          const int mr = std::min(mstep, pl.cout_g - m0);
          const int32_t* apm = ap + static_cast<size_t>(m0) * pl.Kp;
          for (int t = 0; t < nt16; t += 16) {
            const int32_t* btt = bt + t;
            const int count = std::min(16, nt - t);
            size_t dst = (static_cast<size_t>(n) * p.out_c + c0 + m0) * pl.P + p0 + t;
            if (budget > 0) {
              const int step = static_cast<int>(std::min<int64_t>(budget, pl.Kp));
              for (int kp0 = 0; kp0 < pl.Kp; kp0 += step) {
                ukernel32<kMR>(apm, pl.Kp, btt, pl.NT, kp0, std::min(pl.Kp, kp0 + step), acc32);
                for (int r = 0; r < mr; ++r) {
                  if (rqs[m0 + r].fast32) continue;  // one block: requantized from acc32 below
                  lanes32_to_64(_mm256_load_si256(reinterpret_cast<const __m256i*>(acc32[r])), acc64[r], kp0 > 0);
                  lanes32_to_64(_mm256_load_si256(reinterpret_cast<const __m256i*>(acc32[r] + 8)), acc64[r] + 8, kp0 > 0);
                }
              }
            } else {
              ukernel64<kMR64>(apm, pl.Kp, btt, pl.NT, acc64);  // a last single channel: zero row
            }
            for (int r = 0; r < mr; ++r, dst += pl.P) {
              const ChanRq& q = rqs[m0 + r];
              if (q.fast32) {
                store16_q(requant8_32(_mm256_load_si256(reinterpret_cast<const __m256i*>(acc32[r])), q.r32),
                          requant8_32(_mm256_load_si256(reinterpret_cast<const __m256i*>(acc32[r] + 8)), q.r32), count,
                          y.data, ys16, dst);
              } else {
                requant_store16(acc64[r], q.bias, q.r64, count, y.data, ys16, dst);
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace

size_t conv2d_q_avx2_scratch(const Conv2dParams& p, int x_bits, int w_bits) {
  return scratch_bytes(p, make_plan(p));
}

bool conv2d_q_avx2(const Conv2dParams& p, const QIn& x, const void* w, const QWeights& wq, const QOut& y,
                   void* scratch) {
  if (y.bits > 16) return false;
  conv_gemm(p, x, w, wq, y, scratch);
  return true;
}

}  // namespace shrink::rt::kernels
