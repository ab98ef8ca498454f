// Element-wise addition. Integer: each input requantized to FL_y (saturated to int32 only),
// summed exactly in int64, saturated once to B_y, then the fused clamp (DESIGN.md, "Add").
// When the bounds prove int32 exact (the usual case): chunks of 256 elements, one shift decision
// per input and chunk, plain loops the compiler vectorizes.
#include <algorithm>

#include "kernels/internal.h"

namespace shrink::rt::kernels {

namespace {

/// acc[j] += requantize(x[j], s, 32) for j < m, for int8 / int16 x when the caller has proved
/// |x| * 2^max(0, -s) summed over the inputs < 2^31 (no saturation, int32 exact):
/// s in [1, 15]: (x + 2^(s-1)) >> s (arithmetic shift = floor); s >= 16: always 0, since
/// x + 2^(s-1) lies in [0, 2^s) for |x| <= 2^15; s <= 0: x * 2^-s.
template <typename T>
void add_requantized32(const T* x, int s, int32_t* acc, size_t m) {
  if (s >= 16) return;
  const int32_t mul = s > 0 ? 1 : int32_t{1} << -s, half = s > 0 ? int32_t{1} << (s - 1) : 0, sh = s > 0 ? s : 0;
  for (size_t j = 0; j < m; ++j) acc[j] += (x[j] * mul + half) >> sh;
}

/// |requantize(x, s, 32)| <= 2^7 or 2^15 (storage) times 2^max(0, -s), at most 2^31.
int64_t requantized_bound(const QIn& x, int fl_y) {
  const int s = x.fl - fl_y, mag = storage_is_s16(x.bits) ? 15 : 7;
  return int64_t{1} << (s > 0 ? mag : std::min(31, mag - s));
}

}  // namespace

void add_q(const QIn* inputs, int n, const QOut& y, size_t count, Act act) {
  const bool ys = storage_is_s16(y.bits);
  const OutClamp oc = out_clamp(y.bits, y.fl, act);  // B_y saturation and the clamp (nested ranges)
  int64_t bound = 0;
  for (int k = 0; k < n; ++k) bound += requantized_bound(inputs[k], y.fl);
  if (bound >= (int64_t{1} << 31)) {
    // General case: per element, |s| <= n * 2^31 is exact in int64.
    for (size_t i = 0; i < count; ++i) {
      int64_t s = 0;
      for (int k = 0; k < n; ++k)
        s += fx::requantize(load_q(inputs[k].data, storage_is_s16(inputs[k].bits), i), inputs[k].fl - y.fl, 32);
      store_q(y.data, ys, i, s < oc.lo ? oc.lo : (s > oc.hi ? oc.hi : s));
    }
    return;
  }
  // The sum fits int32: chunks of 256 with one shift decision per input (vectorizable loops).
  constexpr size_t kChunk = 256;
  int32_t acc[kChunk];
  const int32_t lo = static_cast<int32_t>(oc.lo), hi = static_cast<int32_t>(oc.hi);
  for (size_t i0 = 0; i0 < count; i0 += kChunk) {
    const size_t m = count - i0 < kChunk ? count - i0 : kChunk;
    for (size_t j = 0; j < m; ++j) acc[j] = 0;
    for (int k = 0; k < n; ++k) {
      const int s = inputs[k].fl - y.fl;
      if (storage_is_s16(inputs[k].bits)) add_requantized32(static_cast<const int16_t*>(inputs[k].data) + i0, s, acc, m);
      else add_requantized32(static_cast<const int8_t*>(inputs[k].data) + i0, s, acc, m);
    }
    for (size_t j = 0; j < m; ++j) acc[j] = acc[j] < lo ? lo : (acc[j] > hi ? hi : acc[j]);
    if (ys) std::copy(acc, acc + m, static_cast<int16_t*>(y.data) + i0);
    else std::copy(acc, acc + m, static_cast<int8_t*>(y.data) + i0);
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
