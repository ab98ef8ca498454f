// Max pooling (NCHW, stride, dilation, asymmetric pads) on fp32 and integer tensors.
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

void maxpool_q(const Pool2dParams& p, const QIn& x, const QOut& y) { maxpool_q_ref(p, x, y); }

}  // namespace shrink::rt::kernels
