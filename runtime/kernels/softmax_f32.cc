// Softmax in float32 over the middle axis of [outer][n][inner]: exp(x - max) / sum.
#include <cmath>

#include "kernels/internal.h"

namespace shrink::rt::kernels {

void softmax_f32(const float* x, float* y, int outer, int n, size_t inner) {
  for (size_t o = 0; o < static_cast<size_t>(outer); ++o)
    for (size_t i = 0; i < inner; ++i) {
      const float* xs = x + o * n * inner + i;
      float* ys = y + o * n * inner + i;
      float m = xs[0];
      for (int k = 1; k < n; ++k) m = std::fmax(m, xs[k * inner]);
      float sum = 0.0f;
      for (int k = 0; k < n; ++k) {
        const float e = std::exp(xs[k * inner] - m);
        ys[k * inner] = e;
        sum += e;
      }
      for (int k = 0; k < n; ++k) ys[k * inner] /= sum;
    }
}

}  // namespace shrink::rt::kernels
