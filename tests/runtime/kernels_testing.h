// Shared helpers of the kernel tests (tests/runtime/kernels_*_test.cc): seeded random integer
// tensors with saturating extremes, an integer buffer that knows its storage type, and a
// requantization written independently of shrink_fixed_point.h (exact rational rounding).
//
//   Rng rng(7);
//   QBuf x = random_q(rng, /*bits=*/8, /*count=*/100, Fill::kExtremes);
//   int64_t y = naive_requant(acc, shift, bits, lo, hi);
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "shr_format.h"

namespace kt {

namespace k = shrink::rt::kernels;

using Rng = std::mt19937_64;

inline int64_t qmin(int bits) { return -(int64_t{1} << (bits - 1)); }
inline int64_t qmax(int bits) { return (int64_t{1} << (bits - 1)) - 1; }

inline int uniform(Rng& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
inline int64_t uniform64(Rng& rng, int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }

/// An integer tensor stored as int8 (bits <= 8) or int16, like the runtime's.
struct QBuf {
  int bits = 8, fl = 0;
  std::vector<int8_t> s8;
  std::vector<int16_t> s16;
  QBuf() = default;
  QBuf(int b, int f, size_t n) : bits(b), fl(f) {
    if (b > 8) s16.assign(n, 0);
    else s8.assign(n, 0);
  }
  size_t size() const { return bits > 8 ? s16.size() : s8.size(); }
  int64_t get(size_t i) const { return bits > 8 ? s16[i] : s8[i]; }
  void set(size_t i, int64_t v) {
    if (bits > 8) s16[i] = static_cast<int16_t>(v);
    else s8[i] = static_cast<int8_t>(v);
  }
  const void* data() const { return bits > 8 ? static_cast<const void*>(s16.data()) : s8.data(); }
  void* data() { return bits > 8 ? static_cast<void*>(s16.data()) : s8.data(); }
  k::QIn in() const { return {data(), bits, fl}; }
  k::QOut out() { return {data(), bits, fl}; }
};

/// The loader's int32-accumulation rule (shr::acc32_safe) for every row of a rows x cols weight.
inline bool acc32_ok(const QBuf& w, int rows, int cols, const std::vector<int32_t>& bias, int x_bits) {
  for (int r = 0; r < rows; ++r) {
    uint64_t sum = 0;
    for (int c = 0; c < cols; ++c) {
      const int64_t v = w.get(static_cast<size_t>(r) * cols + c);
      sum += static_cast<uint64_t>(v < 0 ? -v : v);
    }
    const int64_t b = bias.empty() ? 0 : bias[static_cast<size_t>(r)];
    if (!shrink::shr::acc32_safe(sum, x_bits, static_cast<uint64_t>(b < 0 ? -b : b))) return false;
  }
  return true;
}

/// A buffer holding the given values.
inline QBuf from(const std::vector<int64_t>& v, int bits, int fl) {
  QBuf b(bits, fl, v.size());
  for (size_t i = 0; i < v.size(); ++i) b.set(i, v[i]);
  return b;
}
/// The values of a buffer.
inline std::vector<int64_t> values(const QBuf& b) {
  std::vector<int64_t> v;
  for (size_t i = 0; i < b.size(); ++i) v.push_back(b.get(i));
  return v;
}

/// Random input size (1..max_h x 1..max_w), stride_h 1..2, stride_w 1..max_stride_w, dilations
/// 1..2 and each pad 0..max_pad; channels, groups and kernel are left to the caller.
inline void random_window(Rng& rng, k::Conv2dParams& g, int max_h, int max_w, int max_stride_w, int max_pad) {
  g.in_h = uniform(rng, 1, max_h), g.in_w = uniform(rng, 1, max_w);
  g.stride_h = uniform(rng, 1, 2), g.stride_w = uniform(rng, 1, max_stride_w);
  g.dilation_h = uniform(rng, 1, 2), g.dilation_w = uniform(rng, 1, 2);
  g.pad_top = uniform(rng, 0, max_pad), g.pad_left = uniform(rng, 0, max_pad);
  g.pad_bottom = uniform(rng, 0, max_pad), g.pad_right = uniform(rng, 0, max_pad);
}
/// Whether a geometry has at least one output pixel.
inline bool has_output(k::Conv2dParams g) {
  k::conv2d_fill_out_dims(g);
  return g.out_h >= 1 && g.out_w >= 1;
}

enum class Fill { kUniform, kExtremes, kMin, kMax, kSmall };

/// Random B-bit values: uniform over the range, only qmin / qmax / 0 / +-1, all qmin, all qmax,
/// or small magnitudes.
inline QBuf random_q(Rng& rng, int bits, size_t n, Fill fill, int fl = 0) {
  QBuf b(bits, fl, n);
  for (size_t i = 0; i < n; ++i) {
    int64_t v = 0;
    switch (fill) {
      case Fill::kUniform: v = uniform64(rng, qmin(bits), qmax(bits)); break;
      case Fill::kExtremes: {
        const int64_t pick[] = {qmin(bits), qmax(bits), qmin(bits), qmax(bits), 0, 1, -1};
        v = pick[uniform(rng, 0, 6)];
        break;
      }
      case Fill::kMin: v = qmin(bits); break;
      case Fill::kMax: v = qmax(bits); break;
      case Fill::kSmall: v = uniform64(rng, std::max<int64_t>(qmin(bits), -3), std::min<int64_t>(qmax(bits), 3)); break;
    }
    b.set(i, v);
  }
  return b;
}

inline Fill random_fill(Rng& rng) { return static_cast<Fill>(uniform(rng, 0, 4)); }

/// floor(a / 2^s) for s in 0..126, by exact __int128 arithmetic (no shifts of negatives).
inline __int128 floor_div_pow2(__int128 a, int s) {
  const __int128 d = static_cast<__int128>(1) << s;
  __int128 q = a / d;
  if (a % d != 0 && a < 0) --q;
  return q;
}

/// DESIGN.md's requantization, written from the definition: round(acc * 2^-s) half up
/// (= floor((2 acc + 2^s) / 2^(s+1)) for s > 0), acc * 2^-s for s <= 0, then saturate to
/// `bits` and clamp to [lo, hi]. s >= 63 gives 0.
inline int64_t naive_requant(int64_t acc, int s, int bits, int64_t lo, int64_t hi) {
  __int128 y;
  if (s >= 63) y = 0;
  else if (s > 0) y = floor_div_pow2(2 * static_cast<__int128>(acc) + (static_cast<__int128>(1) << s), s + 1);
  else y = static_cast<__int128>(acc) * (static_cast<__int128>(1) << std::min(-s, 70));
  if (y < qmin(bits)) y = qmin(bits);
  if (y > qmax(bits)) y = qmax(bits);
  if (y < lo) y = lo;
  if (y > hi) y = hi;
  return static_cast<int64_t>(y);
}

/// The clamp bounds of an output format and fused activation, from the definition.
inline void act_bounds(int bits, int fl, k::Act act, int64_t* lo, int64_t* hi) {
  *lo = act == k::Act::kNone ? qmin(bits) : 0;
  *hi = qmax(bits);
  if (act == k::Act::kRelu6) {
    const long double six = std::floor(6.0L * std::pow(2.0L, fl) + 0.5L);
    *hi = six > static_cast<long double>(qmax(bits)) ? qmax(bits) : static_cast<int64_t>(six);
  }
}

/// Index of the first differing element, or -1.
inline long first_diff(const QBuf& a, const QBuf& b) {
  if (a.size() != b.size()) return 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (a.get(i) != b.get(i)) return static_cast<long>(i);
  return -1;
}

#define EXPECT_SAME_Q(a, b, what)                                                                   \
  do {                                                                                              \
    const long d_ = kt::first_diff((a), (b));                                                       \
    EXPECT_EQ(d_, -1) << (what) << ": first difference at " << d_ << ": "                           \
                      << (d_ >= 0 ? (a).get(static_cast<size_t>(d_)) : 0) << " vs "                 \
                      << (d_ >= 0 ? (b).get(static_cast<size_t>(d_)) : 0);                          \
  } while (0)

/// RAII: forces a kernel path for the scope of a test.
struct IsaScope {
  k::Isa prev;
  explicit IsaScope(k::Isa isa) : prev(k::active_isa()) { k::set_isa(isa); }
  ~IsaScope() { k::set_isa(prev); }
};

}  // namespace kt
