// Concatenation along one axis ([outer][channels_i][inner] -> [outer][sum channels][inner]);
// integer inputs are requantized to the output format (requantize(q, FL_i - FL_y, B_y)).
#include <cstring>

#include "kernels/internal.h"

namespace shrink::rt::kernels {

void concat_q(const QIn* inputs, const int* channels, int count, int outer, size_t inner, const QOut& y) {
  size_t total = 0;
  for (int i = 0; i < count; ++i) total += static_cast<size_t>(channels[i]);
  const bool ys = storage_is_s16(y.bits);
  size_t off = 0;
  for (int i = 0; i < count; ++i) {
    const QIn& x = inputs[i];
    const bool xs = storage_is_s16(x.bits);
    const size_t block = static_cast<size_t>(channels[i]) * inner;
    const int shift = x.fl - y.fl;
    const bool copy = shift == 0 && xs == ys && x.bits <= y.bits;  // same format: values move unchanged
    for (int o = 0; o < outer; ++o) {
      const size_t src = static_cast<size_t>(o) * block, dst = (static_cast<size_t>(o) * total + off) * inner;
      if (copy) {
        std::memcpy(static_cast<unsigned char*>(y.data) + dst * storage_bytes(y.bits),
                    static_cast<const unsigned char*>(x.data) + src * storage_bytes(x.bits), block * storage_bytes(y.bits));
      } else {
        for (size_t k = 0; k < block; ++k)
          store_q(y.data, ys, dst + k, fx::requantize(load_q(x.data, xs, src + k), shift, y.bits));
      }
    }
    off += static_cast<size_t>(channels[i]);
  }
}

void concat_f32(const float* const* inputs, const int* channels, int count, int outer, size_t inner, float* y) {
  size_t total = 0;
  for (int i = 0; i < count; ++i) total += static_cast<size_t>(channels[i]);
  size_t off = 0;
  for (int i = 0; i < count; ++i) {
    const size_t block = static_cast<size_t>(channels[i]) * inner;
    for (int o = 0; o < outer; ++o)
      std::memcpy(y + (static_cast<size_t>(o) * total + off) * inner, inputs[i] + static_cast<size_t>(o) * block,
                  block * sizeof(float));
    off += static_cast<size_t>(channels[i]);
  }
}

}  // namespace shrink::rt::kernels
