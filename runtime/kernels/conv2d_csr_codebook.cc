// Integer convolution on sparse codebook weights (kernels.h, "Sparse codebook weights"). For
// each output channel the row's entries are decoded once; each nonzero weight (column k = (ic *
// kh + i) * kw + j) adds weight * input over the whole output plane into per-pixel accumulators
// (the input rows under tap (i, j), clipped to the input like im2col_row), which are then
// requantized. No im2col buffer: the scratch is one plane of accumulators, which suits a
// microcontroller's RAM.
#include <algorithm>

#include "kernels/internal.h"

namespace shrink::rt::kernels {

namespace {

/// acc[oh * out_w + ow] = bias + sum over the nonzeros of row c of v * x[ic][ih][iw]. int64
/// throughout: exact whatever the widths, and one multiply-accumulate (SMLAL) on a Cortex-M4.
template <typename TX>
void scatter_row(const Conv2dParams& p, const TX* xg, const CsrCodebookMatrix& w, bool c16, int c, int64_t bias,
                 int64_t* acc) {
  const int plane = p.out_h * p.out_w, kk = p.kernel_h * p.kernel_w;
  for (int t = 0; t < plane; ++t) acc[t] = bias;
  for_each_codebook_entry(w, c, [&](uint32_t col, uint32_t idx) {
    const int32_t v = load_q(w.centroids, c16, idx);
    if (v == 0) return;  // padding, or a centroid that is 0
    const int k = static_cast<int>(col), ic = k / kk, i = (k / p.kernel_w) % p.kernel_h, j = k % p.kernel_w;
    const TX* xc = xg + static_cast<size_t>(ic) * p.in_h * p.in_w;
    const int col_off = j * p.dilation_w - p.pad_left;
    // Output columns whose input column lies inside [0, in_w).
    const int ow_lo = col_off >= 0 ? 0 : (-col_off + p.stride_w - 1) / p.stride_w;
    const int ow_hi = p.in_w - 1 - col_off < 0 ? 0 : std::min(p.out_w, (p.in_w - 1 - col_off) / p.stride_w + 1);
    for (int oh = 0; oh < p.out_h; ++oh) {
      const int ih = oh * p.stride_h - p.pad_top + i * p.dilation_h;
      if (ih < 0 || ih >= p.in_h) continue;
      const TX* row = xc + static_cast<size_t>(ih) * p.in_w;
      int64_t* a = acc + static_cast<size_t>(oh) * p.out_w;
      for (int ow = ow_lo; ow < ow_hi; ++ow) a[ow] += int64_t{v} * row[ow * p.stride_w + col_off];
    }
  });
}

template <typename TX>
void conv_cb(const Conv2dParams& p, const TX* x, int fl_x, const CsrCodebookMatrix& w, const QWeights& wq, const QOut& y,
             void* scratch) {
  const int cin_g = p.in_c / p.groups, cout_g = p.out_c / p.groups, plane = p.out_h * p.out_w;
  const bool ys = storage_is_s16(y.bits), c16 = storage_is_s16(wq.bits);
  const OutClamp oc = out_clamp(y.bits, y.fl, p.act);
  auto* cur = static_cast<unsigned char*>(scratch);
  auto* acc = static_cast<int64_t*>(carve(cur, static_cast<size_t>(plane) * sizeof(int64_t)));
  for (int n = 0; n < p.n; ++n)
    for (int c = 0; c < p.out_c; ++c) {
      const TX* xg = x + (static_cast<size_t>(n) * p.in_c + static_cast<size_t>(c / cout_g) * cin_g) * p.in_h * p.in_w;
      scatter_row(p, xg, w, c16, c, wq.bias ? wq.bias[c] : 0, acc);
      const int shift = channel_shift(wq, fl_x, y.fl, c);
      const size_t yc = (static_cast<size_t>(n) * p.out_c + c) * plane;
      for (int t = 0; t < plane; ++t) store_q(y.data, ys, yc + t, requant_clamp_small(acc[t], shift, oc));
    }
}

}  // namespace

size_t conv2d_csr_codebook_q_scratch_size(const Conv2dParams& p) {
  return carve_size(static_cast<size_t>(p.out_h) * p.out_w * sizeof(int64_t));
}

void conv2d_csr_codebook_q(const Conv2dParams& p, const QIn& x, const CsrCodebookMatrix& w, const QWeights& wq,
                           const QOut& y, void* scratch) {
  visit_q(x.data, x.bits, [&](auto* xs) { conv_cb(p, xs, x.fl, w, wq, y, scratch); });
}

}  // namespace shrink::rt::kernels
