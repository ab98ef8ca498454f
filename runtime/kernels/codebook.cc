// Codebook (k-means) weights: expands b-bit packed indices (LSB first, see kernels.h) into a
// dense weight buffer, so that codebook layers run the dense kernels bit for bit.
#include "kernels/internal.h"

namespace shrink::rt::kernels {

namespace {

template <typename T>
void expand(const uint8_t* packed, size_t n, int index_bits, const T* centroids, T* out) {
  if (index_bits == 8) {
    for (size_t i = 0; i < n; ++i) out[i] = centroids[packed[i]];
    return;
  }
  // A 32-bit window refilled byte by byte: bits are consumed from the bottom.
  const uint32_t mask = (1u << index_bits) - 1u;
  uint32_t window = 0;
  int have = 0;
  size_t byte = 0;
  for (size_t i = 0; i < n; ++i) {
    while (have < index_bits) {
      window |= static_cast<uint32_t>(packed[byte++]) << have;
      have += 8;
    }
    out[i] = centroids[window & mask];
    window >>= index_bits;
    have -= index_bits;
  }
}

}  // namespace

void codebook_expand_s8(const uint8_t* packed, size_t n, int index_bits, const int8_t* centroids, int8_t* out) {
  expand(packed, n, index_bits, centroids, out);
}
void codebook_expand_s16(const uint8_t* packed, size_t n, int index_bits, const int16_t* centroids, int16_t* out) {
  expand(packed, n, index_bits, centroids, out);
}
void codebook_expand_f32(const uint8_t* packed, size_t n, int index_bits, const float* centroids, float* out) {
  expand(packed, n, index_bits, centroids, out);
}

}  // namespace shrink::rt::kernels
