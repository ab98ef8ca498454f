// Integer 2-D convolution (NCHW, grouped / depthwise, stride, dilation, asymmetric pads):
// the scalar reference, and the entry point that picks a fast path (AVX2 GEMM or depthwise).
#include <algorithm>

#include "kernels/internal.h"
#include "shr_format.h"

namespace shrink::rt::kernels {

void conv2d_fill_out_dims(Conv2dParams& p) {
  p.out_h = static_cast<int>(shr::window_out(p.in_h, p.kernel_h, p.stride_h, p.dilation_h, p.pad_top, p.pad_bottom, false));
  p.out_w = static_cast<int>(shr::window_out(p.in_w, p.kernel_w, p.stride_w, p.dilation_w, p.pad_left, p.pad_right, false));
}

namespace {

template <bool kAcc32, typename TX, typename TW>
void conv_ref(const Conv2dParams& p, const TX* x, int fl_x, const TW* w, const QWeights& wq, const QOut& y) {
  const int bits_y = y.bits, fl_y = y.fl;
  const bool ys = storage_is_s16(bits_y);
  const int cin_g = p.in_c / p.groups, cout_g = p.out_c / p.groups;
  const OutClamp oc = out_clamp(bits_y, fl_y, p.act);
  for (int n = 0; n < p.n; ++n) {
    for (int c = 0; c < p.out_c; ++c) {
      const int g = c / cout_g;
      const int shift = channel_shift(wq, fl_x, fl_y, c);
      const TW* wc = w + static_cast<size_t>(c) * cin_g * p.kernel_h * p.kernel_w;
      const TX* xg = x + (static_cast<size_t>(n) * p.in_c + static_cast<size_t>(g) * cin_g) * p.in_h * p.in_w;
      const size_t yc = (static_cast<size_t>(n) * p.out_c + c) * p.out_h * p.out_w;
      for (int oh = 0; oh < p.out_h; ++oh) {
        for (int ow = 0; ow < p.out_w; ++ow) {
          Accum<kAcc32> acc;
          if (wq.bias) acc.add(wq.bias[c]);
          for (int ic = 0; ic < cin_g; ++ic) {
            const TX* xc = xg + static_cast<size_t>(ic) * p.in_h * p.in_w;
            const TW* wk = wc + static_cast<size_t>(ic) * p.kernel_h * p.kernel_w;
            for_each_tap(p, oh, ow, [&](int i, int j, int ih, int iw) {
              acc.add(int64_t{xc[static_cast<size_t>(ih) * p.in_w + iw]} * wk[i * p.kernel_w + j]);
            });
          }
          store_q(y.data, ys, yc + static_cast<size_t>(oh) * p.out_w + ow, requant_clamp(acc.get(), shift, bits_y, oc));
        }
      }
    }
  }
}

}  // namespace

void conv2d_q_ref(const Conv2dParams& p, const QIn& x, const void* w, const QWeights& wq, const QOut& y) {
  visit_q2(x.data, x.bits, w, wq.bits, [&](auto* xs, auto* ws) {
    if (wq.acc32) conv_ref<true>(p, xs, x.fl, ws, wq, y);
    else conv_ref<false>(p, xs, x.fl, ws, wq, y);
  });
}

size_t conv2d_q_scratch_size(const Conv2dParams& p, int x_bits, int w_bits) {
  return conv2d_q_scratch_for(cpu_fast_paths(), p, x_bits, w_bits);
}

size_t conv2d_q_scratch_for(const FastPaths* f, const Conv2dParams& p, int x_bits, int w_bits) {
  if (!f) return 0;
  size_t s = f->conv2d_q_scratch(p, x_bits, w_bits);
  if (is_depthwise(p)) s = std::max(s, f->dwconv_q_scratch(p, x_bits, w_bits));
  return s;
}

void conv2d_q(const Conv2dParams& p, const QIn& x, const void* w, const QWeights& wq, const QOut& y,
              void* scratch) {
  if (const FastPaths* f = fast_paths()) {
    if (is_depthwise(p) && f->dwconv_q(p, x, w, wq, y, scratch)) return;
    if (f->conv2d_q(p, x, w, wq, y, scratch)) return;
  }
  conv2d_q_ref(p, x, w, wq, y);
}

}  // namespace shrink::rt::kernels
