// Requantization of a whole tensor to another format, with an optional integer ReLU / ReLU6.
#include "kernels/internal.h"

namespace shrink::rt::kernels {

void requantize_q(const QIn& x, const QOut& y, size_t count, Act act) {
  const int shift = x.fl - y.fl;
  const bool xs = storage_is_s16(x.bits), ys = storage_is_s16(y.bits);
  const OutClamp oc = out_clamp(y.bits, y.fl, act);
  for (size_t i = 0; i < count; ++i) store_q(y.data, ys, i, requant_clamp(load_q(x.data, xs, i), shift, y.bits, oc));
}

}  // namespace shrink::rt::kernels
