// Table activations on integer tensors: y = table[q - qmin(B_x)] (2^B_x entries computed by the
// exporter with fx::quantize in double; the simulation uses the same table).
#include "kernels/internal.h"

namespace shrink::rt::kernels {

void lut_q(const QIn& x, const void* table, const QOut& y, size_t count) {
  const bool xs = storage_is_s16(x.bits), ys = storage_is_s16(y.bits);
  const int64_t lo = fx::qmin(x.bits);
  for (size_t i = 0; i < count; ++i) {
    const auto idx = static_cast<size_t>(fx::saturate(load_q(x.data, xs, i), x.bits) - lo);
    store_q(y.data, ys, i, load_q(table, ys, idx));
  }
}

}  // namespace shrink::rt::kernels
