// Element-wise addition. Integer: each input requantized to FL_y (saturated to int32 only),
// summed exactly in int64, saturated once to B_y, then the fused clamp (DESIGN.md, "Add").
#include "kernels/internal.h"

namespace shrink::rt::kernels {

void add_q(const QIn* inputs, int n, const QOut& y, size_t count, Act act) {
  const bool ys = storage_is_s16(y.bits);
  const OutClamp oc = out_clamp(y.bits, y.fl, act);
  for (size_t i = 0; i < count; ++i) {
    int64_t s = 0;  // |s| <= n * 2^31: exact
    for (int k = 0; k < n; ++k)
      s += fx::requantize(load_q(inputs[k].data, storage_is_s16(inputs[k].bits), i), inputs[k].fl - y.fl, 32);
    const int64_t v = fx::saturate(s, y.bits);
    store_q(y.data, ys, i, v < oc.lo ? oc.lo : (v > oc.hi ? oc.hi : v));
  }
}

void add_f32(const float* const* inputs, int n, float* y, size_t count, Act act) {
  for (size_t i = 0; i < count; ++i) {
    float s = inputs[0][i];
    for (int k = 1; k < n; ++k) s += inputs[k][i];
    y[i] = act_f32(s, act);
  }
}

}  // namespace shrink::rt::kernels
