// fp32 dense (Linear) layer: y[n][o] = act(bias[o] + sum_k w[o][k] * x[n][k]).
#include "kernels/internal.h"

namespace shrink::rt::kernels {

void dense_f32_ref(const DenseParams& p, const float* x, const float* w, const float* bias, float* y) {
  for (int n = 0; n < p.n; ++n)
    for (int o = 0; o < p.out; ++o) {
      float acc = bias ? bias[o] : 0.0f;
      for (int k = 0; k < p.in; ++k) acc += w[static_cast<size_t>(o) * p.in + k] * x[static_cast<size_t>(n) * p.in + k];
      y[static_cast<size_t>(n) * p.out + o] = act_f32(acc, p.act);
    }
}

void dense_f32(const DenseParams& p, const float* x, const float* w, const float* bias, float* y) {
  // Eight partial sums per row let the compiler vectorise without reassociating (no -ffast-math).
  for (int n = 0; n < p.n; ++n) {
    const float* xn = x + static_cast<size_t>(n) * p.in;
    for (int o = 0; o < p.out; ++o) {
      const float* wo = w + static_cast<size_t>(o) * p.in;
      float part[8] = {};
      const int k8 = p.in / 8 * 8;
      for (int k = 0; k < k8; k += 8)
        for (int l = 0; l < 8; ++l) part[l] += wo[k + l] * xn[k + l];
      float acc = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
      for (int k = k8; k < p.in; ++k) acc += wo[k] * xn[k];
      y[static_cast<size_t>(n) * p.out + o] = act_f32(acc + (bias ? bias[o] : 0.0f), p.act);
    }
  }
}

}  // namespace shrink::rt::kernels
