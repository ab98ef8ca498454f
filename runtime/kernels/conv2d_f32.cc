// fp32 2-D convolution (NCHW, grouped / depthwise, stride, dilation, asymmetric pads): the
// direct reference and an im2col + GEMM version that works on tiles of output pixels.
#include <algorithm>

#include "kernels/internal.h"

namespace shrink::rt::kernels {

namespace {

constexpr size_t kTileBytes = 128 * 1024;

struct F32Plan {
  int cin_g, cout_g, K, P, NT;
};

F32Plan f32_plan(const Conv2dParams& p) {
  F32Plan pl{};
  pl.cin_g = p.in_c / p.groups;
  pl.cout_g = p.out_c / p.groups;
  pl.K = pl.cin_g * p.kernel_h * p.kernel_w;
  pl.P = p.out_h * p.out_w;
  const int nt = static_cast<int>(kTileBytes / (static_cast<size_t>(std::max(pl.K, 1)) * sizeof(float)));
  pl.NT = std::max(8, std::min(nt, pl.P));
  return pl;
}

}  // namespace

void conv2d_f32_ref(const Conv2dParams& p, const float* x, const float* w, const float* bias, float* y) {
  const int cin_g = p.in_c / p.groups, cout_g = p.out_c / p.groups;
  for (int n = 0; n < p.n; ++n)
    for (int c = 0; c < p.out_c; ++c) {
      const int g = c / cout_g;
      const float* wc = w + static_cast<size_t>(c) * cin_g * p.kernel_h * p.kernel_w;
      const float* xg = x + (static_cast<size_t>(n) * p.in_c + static_cast<size_t>(g) * cin_g) * p.in_h * p.in_w;
      float* yc = y + (static_cast<size_t>(n) * p.out_c + c) * p.out_h * p.out_w;
      for (int oh = 0; oh < p.out_h; ++oh)
        for (int ow = 0; ow < p.out_w; ++ow) {
          float acc = bias ? bias[c] : 0.0f;
          for (int ic = 0; ic < cin_g; ++ic) {
            const float* xc = xg + static_cast<size_t>(ic) * p.in_h * p.in_w;
            const float* wk = wc + static_cast<size_t>(ic) * p.kernel_h * p.kernel_w;
            for_each_tap(p, oh, ow, [&](int i, int j, int ih, int iw) {
              acc += xc[static_cast<size_t>(ih) * p.in_w + iw] * wk[i * p.kernel_w + j];
            });
          }
          yc[static_cast<size_t>(oh) * p.out_w + ow] = act_f32(acc, p.act);
        }
    }
}

size_t conv2d_f32_scratch_size(const Conv2dParams& p) {
  const F32Plan pl = f32_plan(p);
  return carve_size(static_cast<size_t>(pl.K) * pl.NT * sizeof(float)) + carve_size(static_cast<size_t>(pl.NT) * sizeof(float));
}

void conv2d_f32(const Conv2dParams& p, const float* x, const float* w, const float* bias, float* y, void* scratch) {
  const F32Plan pl = f32_plan(p);
  auto* cur = static_cast<unsigned char*>(scratch);
  auto* col = static_cast<float*>(carve(cur, static_cast<size_t>(pl.K) * pl.NT * sizeof(float)));
  auto* acc = static_cast<float*>(carve(cur, static_cast<size_t>(pl.NT) * sizeof(float)));
  const bool direct = p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                      p.pad_top == 0 && p.pad_left == 0 && p.out_h == p.in_h && p.out_w == p.in_w;
  for (int n = 0; n < p.n; ++n)
    for (int g = 0; g < p.groups; ++g) {
      const float* xg = x + (static_cast<size_t>(n) * p.in_c + static_cast<size_t>(g) * pl.cin_g) * p.in_h * p.in_w;
      for (int p0 = 0; p0 < pl.P; p0 += pl.NT) {
        const int nt = std::min(pl.NT, pl.P - p0);
        // A 1x1 stride-1 unpadded convolution reads its input rows directly.
        const float* cols = xg + p0;
        size_t col_stride = static_cast<size_t>(pl.P);
        if (!direct) {
          for (int k = 0; k < pl.K; ++k) im2col_row(p, xg, k, p0, nt, col + static_cast<size_t>(k) * nt);
          cols = col;
          col_stride = static_cast<size_t>(nt);
        }
        for (int m = 0; m < pl.cout_g; ++m) {
          const int c = g * pl.cout_g + m;
          const float* wc = w + static_cast<size_t>(c) * pl.K;
          const float b = bias ? bias[c] : 0.0f;
          for (int t = 0; t < nt; ++t) acc[t] = b;
          for (int k = 0; k < pl.K; ++k) {
            const float wv = wc[k];
            const float* cr = cols + static_cast<size_t>(k) * col_stride;
            for (int t = 0; t < nt; ++t) acc[t] += wv * cr[t];
          }
          float* yc = y + (static_cast<size_t>(n) * p.out_c + c) * pl.P + p0;
          for (int t = 0; t < nt; ++t) yc[t] = act_f32(acc[t], p.act);
        }
      }
    }
}

}  // namespace shrink::rt::kernels
