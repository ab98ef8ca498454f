// Float <-> integer conversion at the edges of the integer part of a graph.
#include <cmath>

#include "kernels/internal.h"

namespace shrink::rt::kernels {

void quantize_f32(const float* x, const QOut& y, size_t count) {
  const double scale = std::ldexp(1.0, y.fl);  // x * 2^FL is exact in double for float32 x
  const bool ys = storage_is_s16(y.bits);
  for (size_t i = 0; i < count; ++i) store_q(y.data, ys, i, fx::quantize_scaled(x[i], y.bits, scale));
}

void dequantize_q(const QIn& x, float* y, size_t count) {
  const bool xs = storage_is_s16(x.bits);
  const float scale = static_cast<float>(std::ldexp(1.0, -x.fl));  // a power of two: exact product
  for (size_t i = 0; i < count; ++i) y[i] = static_cast<float>(load_q(x.data, xs, i)) * scale;
}

}  // namespace shrink::rt::kernels
