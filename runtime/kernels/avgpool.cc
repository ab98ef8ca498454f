// Average pooling and global average pooling (NCHW) on fp32 and integer tensors. Integer:
// a = floor((2S + n) / (2n)) over the window sum S (fx::average: round half up, floor division
// also for negative sums), then requantize(a, FL_x - FL_y, B_y).
#include <algorithm>

#include "kernels/internal.h"

namespace shrink::rt::kernels {

namespace {

/// Cells of one window along one axis counted by count_include_pad (the window clipped to
/// [-pad_begin, in + pad_end)) or not (clipped to [0, in)), and the input range [lo, hi).
struct Span {
  int lo, hi, count;
};
Span window(int o, int stride, int k, int in, int pb, int pe, bool include_pad) {
  const int start = o * stride - pb, end = start + k;
  const int lo = std::max(start, 0), hi = std::min(end, in);
  const int clo = include_pad ? std::max(start, -pb) : lo, chi = include_pad ? std::min(end, in + pe) : hi;
  return {lo, std::max(hi, lo), std::max(chi - clo, 0)};
}

template <typename TS, typename F>
void avgpool(const Pool2dParams& p, const TS* x, F&& emit) {
  const size_t in_plane = static_cast<size_t>(p.in_h) * p.in_w, out_plane = static_cast<size_t>(p.out_h) * p.out_w;
  for (size_t nc = 0; nc < static_cast<size_t>(p.n) * p.c; ++nc) {
    const TS* xc = x + nc * in_plane;
    for (int oh = 0; oh < p.out_h; ++oh) {
      const Span sh = window(oh, p.stride_h, p.kernel_h, p.in_h, p.pad_top, p.pad_bottom, p.count_include_pad);
      for (int ow = 0; ow < p.out_w; ++ow) {
        const Span sw = window(ow, p.stride_w, p.kernel_w, p.in_w, p.pad_left, p.pad_right, p.count_include_pad);
        emit(nc * out_plane + static_cast<size_t>(oh) * p.out_w + ow, xc, sh, sw,
             static_cast<int64_t>(sh.count) * sw.count);
      }
    }
  }
}

template <typename Acc, typename T>
Acc window_sum(const T* xc, int in_w, const Span& sh, const Span& sw) {
  Acc s = 0;
  for (int ih = sh.lo; ih < sh.hi; ++ih)
    for (int iw = sw.lo; iw < sw.hi; ++iw) s += xc[static_cast<size_t>(ih) * in_w + iw];
  return s;
}

}  // namespace

void avgpool_f32(const Pool2dParams& p, const float* x, float* y) {
  avgpool(p, x, [&](size_t o, const float* xc, const Span& sh, const Span& sw, int64_t n) {
    y[o] = n == 0 ? 0.0f : window_sum<float>(xc, p.in_w, sh, sw) / static_cast<float>(n);
  });
}

void avgpool_q_ref(const Pool2dParams& p, const QIn& x, const QOut& y) {
  const int shift = x.fl - y.fl;
  const bool ys = storage_is_s16(y.bits);
  visit_q(x.data, x.bits, [&](auto* xs) {
    avgpool(p, xs, [&](size_t o, const auto* xc, const Span& sh, const Span& sw, int64_t n) {
      const int64_t a = n == 0 ? 0 : fx::average(window_sum<int64_t>(xc, p.in_w, sh, sw), n);
      store_q(y.data, ys, o, fx::requantize(a, shift, y.bits));
    });
  });
}

void avgpool_q(const Pool2dParams& p, const QIn& x, const QOut& y) { avgpool_q_ref(p, x, y); }

void global_avgpool_f32(int n, int c, int hw, const float* x, float* y) {
  for (size_t i = 0; i < static_cast<size_t>(n) * c; ++i) {
    float s = 0.0f;
    for (int k = 0; k < hw; ++k) s += x[i * hw + k];
    y[i] = s / static_cast<float>(hw);
  }
}

void global_avgpool_q(int n, int c, int hw, const QIn& x, const QOut& y) {
  const int shift = x.fl - y.fl;
  const bool ys = storage_is_s16(y.bits);
  visit_q(x.data, x.bits, [&](auto* xs) {
    for (size_t i = 0; i < static_cast<size_t>(n) * c; ++i) {
      int64_t s = 0;
      for (int k = 0; k < hw; ++k) s += xs[i * hw + k];
      store_q(y.data, ys, i, fx::requantize(fx::average(s, hw), shift, y.bits));
    }
  });
}

}  // namespace shrink::rt::kernels
