// The fixed-point arithmetic of shrink (DESIGN.md, "Fixed-point arithmetic"), in one place:
// the quantizer, the simulation, the exporter and the runtime's kernels all call these, so
// they agree bit for bit. Header-only, C++ standard library only.
//
//   int32_t q = shrink::fx::quantize(0.7, /*bits=*/8, /*fl=*/4);   // 11 (0.7 * 16 = 11.2)
//   int32_t y = shrink::fx::requantize(acc, /*shift=*/fl_x + fl_w - fl_y, /*bits=*/8);
//   float   x = shrink::fx::dequantize(q, 4);                       // 0.6875
//
// A value is a signed B-bit two's-complement integer q with fractional length FL:
// x = q * 2^-FL, IL = B - 1 - FL. B is 2..16 for tensors (32 for biases), FL is in [-8, 24].
#pragma once
#include <cmath>
#include <cstdint>

namespace shrink::fx {

constexpr int kMinBits = 2, kMaxBits = 16;
constexpr int kMinFl = -8, kMaxFl = 24;

inline bool valid_bits(int bits) { return bits >= kMinBits && bits <= kMaxBits; }
inline bool valid_fl(int fl) { return fl >= kMinFl && fl <= kMaxFl; }

/// Largest and smallest B-bit two's-complement integers (B in 1..63).
constexpr int64_t qmax(int bits) { return (int64_t{1} << (bits - 1)) - 1; }
constexpr int64_t qmin(int bits) { return -(int64_t{1} << (bits - 1)); }

/// Clamps v to the B-bit range.
constexpr int64_t saturate(int64_t v, int bits) {
  return v < qmin(bits) ? qmin(bits) : (v > qmax(bits) ? qmax(bits) : v);
}

/// q = clamp(floor(x * 2^FL + 0.5), -2^(B-1), 2^(B-1) - 1), in double: round half up, saturate.
/// NaN quantizes to 0; +-inf saturate. (Inputs given as float32 are converted to double first.)
inline int64_t quantize(double x, int bits, int fl) {
  if (std::isnan(x)) return 0;
  const double r = std::floor(std::ldexp(x, fl) + 0.5);
  if (r <= static_cast<double>(qmin(bits))) return qmin(bits);
  if (r >= static_cast<double>(qmax(bits))) return qmax(bits);
  return static_cast<int64_t>(r);
}

/// quantize(x, bits, fl) for a float32 x, with scale = 2^FL precomputed by the caller
/// (std::ldexp(1.0, fl)): the same integer, because x * 2^FL is exact in double for every
/// float32 x and FL in [-8, 24]; for hot loops (no ldexp call per value).
inline int64_t quantize_scaled(float x, int bits, double scale) {
  if (std::isnan(x)) return 0;
  const double r = std::floor(static_cast<double>(x) * scale + 0.5);
  const double lo = static_cast<double>(qmin(bits)), hi = static_cast<double>(qmax(bits));
  const double c = r < lo ? lo : r;              // compiles to maxsd / minsd: no branches
  const double d = hi < c ? hi : c;
  return static_cast<int64_t>(d);
}

/// x = q * 2^-FL (exact in double; exact in float for |q| < 2^24).
inline double dequantize(int64_t q, int fl) { return std::ldexp(static_cast<double>(q), -fl); }

/// Rescales an exact accumulator by 2^-shift with round half up, then saturates to `bits`:
/// shift > 0: floor((acc + 2^(shift-1)) / 2^shift) (arithmetic shift; shift >= 63 gives 0);
/// shift <= 0: acc * 2^-shift, saturated (no wrap-around).
inline int64_t requantize(int64_t acc, int shift, int bits) {
  int64_t y;
  if (shift >= 63) {
    y = 0;
  } else if (shift > 0) {
    // floor(acc / 2^shift) (arithmetic shift) plus 1 when the remainder acc mod 2^shift is at
    // least half of 2^shift, i.e. when bit shift-1 of acc is set: exact for any int64 without a
    // wider type (no __int128 on 32-bit targets such as the Cortex-M4) and without overflow.
    y = (acc >> shift) + ((acc >> (shift - 1)) & 1);
  } else {
    const int up = -shift;
    if (acc == 0) {
      y = 0;
    } else if (up >= 62) {
      y = acc > 0 ? qmax(63) : qmin(63);
    } else {
      const int64_t lim = int64_t{1} << (62 - up);
      y = acc >= lim ? qmax(63) : (acc <= -lim ? qmin(63) : acc * (int64_t{1} << up));
    }
  }
  return saturate(y, bits);
}

/// The upper clamp of a fused ReLU6 in the output's integer domain:
/// saturate(floor(6 * 2^FL_y + 0.5)) to `bits`.
inline int64_t relu6_max(int bits, int fl) { return quantize(6.0, bits, fl); }

/// Average of n integers with round half up and floor division (also for negative sums):
/// floor((2 * sum + n) / (2 * n)).
inline int64_t average(int64_t sum, int64_t n) {
  const int64_t num = 2 * sum + n, den = 2 * n;
  int64_t q = num / den;
  if ((num % den != 0) && ((num < 0) != (den < 0))) --q;
  return q;
}

}  // namespace shrink::fx
