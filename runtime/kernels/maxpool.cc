// Max pooling (NCHW, stride, dilation, asymmetric pads) on fp32 and integer tensors.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/internal.h"
#include "shr_format.h"

namespace shrink::rt::kernels {

void pool2d_fill_out_dims(Pool2dParams& p) {
  p.out_h = static_cast<int>(shr::window_out(p.in_h, p.kernel_h, p.stride_h, p.dilation_h, p.pad_top, p.pad_bottom, p.ceil_mode));
  p.out_w = static_cast<int>(shr::window_out(p.in_w, p.kernel_w, p.stride_w, p.dilation_w, p.pad_left, p.pad_right, p.ceil_mode));
}

namespace {

template <typename T>
void maxpool(const Pool2dParams& p, const T* x, T* y, T empty) {
  const size_t in_plane = static_cast<size_t>(p.in_h) * p.in_w, out_plane = static_cast<size_t>(p.out_h) * p.out_w;
  for (size_t nc = 0; nc < static_cast<size_t>(p.n) * p.c; ++nc) {
    const T* xc = x + nc * in_plane;
    T* yc = y + nc * out_plane;
    for (int oh = 0; oh < p.out_h; ++oh)
      for (int ow = 0; ow < p.out_w; ++ow) {
        T m = empty;
        bool any = false;
        for_each_tap(p, oh, ow, [&](int, int, int ih, int iw) {
          const T v = xc[static_cast<size_t>(ih) * p.in_w + iw];
          if (!any || v > m || v != v) m = v;  // NaN propagates for floats, as in PyTorch
          any = true;
        });
        yc[static_cast<size_t>(oh) * p.out_w + ow] = m;
      }
  }
}

/// 2x2 windows with stride 2 that never leave the input (no padding, dilation 1, no ceil-mode
/// overhang): the common pooling of CNNs, without per-tap bounds logic, written so that it
/// vectorizes. Same result as maxpool() (integers: max is exact); anything else takes it.
bool is_plain_2x2(const Pool2dParams& p) {
  return p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 && p.stride_w == 2 && p.pad_top == 0 &&
         p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0 && p.dilation_h == 1 && p.dilation_w == 1 &&
         p.out_h > 0 && p.out_w > 0 && 2 * p.out_h <= p.in_h && 2 * p.out_w <= p.in_w;
}

template <typename T>
void maxpool_2x2(const Pool2dParams& p, const T* x, T* y) {
  const size_t in_plane = static_cast<size_t>(p.in_h) * p.in_w, out_plane = static_cast<size_t>(p.out_h) * p.out_w;
  for (size_t nc = 0; nc < static_cast<size_t>(p.n) * p.c; ++nc)
    for (int oh = 0; oh < p.out_h; ++oh) {
      const T* r0 = x + nc * in_plane + static_cast<size_t>(2 * oh) * p.in_w;
      const T* r1 = r0 + p.in_w;
      T* yr = y + nc * out_plane + static_cast<size_t>(oh) * p.out_w;
      for (int ow = 0; ow < p.out_w; ++ow)
        yr[ow] = std::max(std::max(r0[2 * ow], r0[2 * ow + 1]), std::max(r1[2 * ow], r1[2 * ow + 1]));
    }
}

}  // namespace

void maxpool_f32(const Pool2dParams& p, const float* x, float* y) {
  maxpool(p, x, y, -std::numeric_limits<float>::infinity());
}

void maxpool_q_ref(const Pool2dParams& p, const QIn& x, const QOut& y) {
  if (storage_is_s16(x.bits))
    maxpool(p, static_cast<const int16_t*>(x.data), static_cast<int16_t*>(y.data), static_cast<int16_t>(fx::qmin(x.bits)));
  else
    maxpool(p, static_cast<const int8_t*>(x.data), static_cast<int8_t*>(y.data), static_cast<int8_t>(fx::qmin(x.bits)));
}

void maxpool_q(const Pool2dParams& p, const QIn& x, const QOut& y) {
  // int8 storage only: int16 keeps the reference (code size: the runtime stays under 200 KB).
  if (!is_plain_2x2(p) || storage_is_s16(x.bits)) return maxpool_q_ref(p, x, y);
  maxpool_2x2(p, static_cast<const int8_t*>(x.data), static_cast<int8_t*>(y.data));
}

}  // namespace shrink::rt::kernels
