// The fixed-point rules of DESIGN.md against hand-computed tables.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "shrink_fixed_point.h"

namespace fx = shrink::fx;

struct QCase { double x; int bits, fl; int64_t q; };

TEST(FixedPoint, QuantizeTable) {
  const QCase cases[] = {
      // round half up: ties go towards +inf, also for negative values
      {0.5, 8, 0, 1},   {-0.5, 8, 0, 0},   {1.5, 8, 0, 2},    {-1.5, 8, 0, -1},
      {2.5, 8, 0, 3},   {-2.5, 8, 0, -2},  {0.49999, 8, 0, 0}, {-0.50001, 8, 0, -1},
      {0.7, 8, 4, 11},  {-0.7, 8, 4, -11}, {0.71875, 8, 5, 23}, {-0.015625, 8, 5, 0},
      // saturation at both ends
      {1000.0, 8, 0, 127}, {-1000.0, 8, 0, -128}, {127.5, 8, 0, 127}, {-128.5, 8, 0, -128},
      {-128.4, 8, 0, -128}, {1.0, 2, 1, 1}, {-1.0, 2, 1, -2}, {0.75, 2, 1, 1},
      {40000.0, 16, 0, 32767}, {-40000.0, 16, 0, -32768},
      // negative FL: steps of 2^-FL
      {100.0, 8, -2, 25}, {102.0, 8, -2, 26}, {-102.0, 8, -2, -25}, {1e6, 8, -8, 127},
      // FL > B: only tiny values are representable
      {0.001, 4, 10, 1}, {0.0015, 4, 10, 2}, {0.01, 4, 10, 7}, {-0.01, 4, 10, -8},
      {std::ldexp(1.0, -24), 8, 24, 1},
  };
  for (const auto& c : cases)
    EXPECT_EQ(fx::quantize(c.x, c.bits, c.fl), c.q) << "x=" << c.x << " bits=" << c.bits << " fl=" << c.fl;
}

TEST(FixedPoint, QuantizeNonFinite) {
  EXPECT_EQ(fx::quantize(std::numeric_limits<double>::quiet_NaN(), 8, 3), 0);
  EXPECT_EQ(fx::quantize(std::numeric_limits<double>::infinity(), 8, 3), 127);
  EXPECT_EQ(fx::quantize(-std::numeric_limits<double>::infinity(), 12, 3), -2048);
}

TEST(FixedPoint, DequantizeIsExactInverseOnTheGrid) {
  for (int fl = -8; fl <= 24; ++fl)
    for (int64_t q = -128; q <= 127; ++q) EXPECT_EQ(fx::quantize(fx::dequantize(q, fl), 8, fl), q);
}

struct RCase { int64_t acc; int shift, bits; int64_t y; };

TEST(FixedPoint, RequantizeTable) {
  const RCase cases[] = {
      {5, 1, 8, 3},    {-5, 1, 8, -2},   {4, 1, 8, 2},     {-4, 1, 8, -2},
      {6, 2, 8, 2},    {-6, 2, 8, -1},   {-7, 2, 8, -2},   {7, 2, 8, 2},
      {1000, 2, 8, 127}, {-1000, 2, 8, -128}, {-514, 2, 8, -128}, {-515, 2, 8, -128},
      {3, 0, 8, 3},    {3, -2, 8, 12},   {-40, -2, 8, -128}, {40, -3, 16, 320},
      {1, -70, 16, 32767}, {-1, -70, 16, -32768}, {0, -70, 16, 0},
      {std::numeric_limits<int64_t>::max(), 63, 8, 0}, {-12345, 80, 8, 0},
      {std::numeric_limits<int64_t>::max(), 62, 16, 2}, {std::numeric_limits<int64_t>::min(), 62, 16, -2},
  };
  for (const auto& c : cases)
    EXPECT_EQ(fx::requantize(c.acc, c.shift, c.bits), c.y) << "acc=" << c.acc << " shift=" << c.shift;
}

TEST(FixedPoint, RequantizeMatchesRealArithmeticWhenInRange) {
  // For |acc| < 2^40 the rule equals floor(acc / 2^s + 1/2) computed in long double.
  for (int s = 1; s < 20; ++s)
    for (int64_t acc = -3000; acc <= 3000; acc += 7) {
      const long double ref = std::floor(static_cast<long double>(acc) / std::ldexp(1.0L, s) + 0.5L);
      EXPECT_EQ(fx::requantize(acc, s, 16), fx::saturate(static_cast<int64_t>(ref), 16));
    }
}

TEST(FixedPoint, Relu6AndAverage) {
  EXPECT_EQ(fx::relu6_max(8, 4), 96);
  EXPECT_EQ(fx::relu6_max(8, 5), 127);  // 192 saturates
  EXPECT_EQ(fx::relu6_max(8, -1), 3);   // 6 * 0.5 = 3
  EXPECT_EQ(fx::average(10, 4), 3);     // 2.5 -> 3
  EXPECT_EQ(fx::average(-10, 4), -2);   // -2.5 -> -2 (half up)
  EXPECT_EQ(fx::average(-11, 4), -3);   // -2.75 -> -3
  EXPECT_EQ(fx::average(9, 4), 2);      // 2.25 -> 2
  EXPECT_EQ(fx::average(0, 9), 0);
  EXPECT_EQ(fx::average(-1, 9), 0);     // -0.11 -> 0
  EXPECT_EQ(fx::average(-5, 9), -1);    // -0.56 -> -1
}

TEST(FixedPoint, LegalRanges) {
  EXPECT_FALSE(fx::valid_bits(1));
  EXPECT_TRUE(fx::valid_bits(2));
  EXPECT_TRUE(fx::valid_bits(16));
  EXPECT_FALSE(fx::valid_bits(17));
  EXPECT_FALSE(fx::valid_fl(-9));
  EXPECT_TRUE(fx::valid_fl(24));
  EXPECT_FALSE(fx::valid_fl(25));
}
