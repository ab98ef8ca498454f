// Element-wise and tensor kernels: add, concat, requantize, table activations, float
// activations, softmax, quantize / dequantize, and the path report.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels_testing.h"

namespace {

using namespace kt;

constexpr float kF32Tol = 1e-6f;

void add2(const QBuf& a, const QBuf& b, const k::QOut& y, size_t count, k::Act act = k::Act::kNone) {
  const k::QIn ins[] = {a.in(), b.in()};
  k::add_q(ins, 2, y, count, act);
}

TEST(KernelsEltwise, AddRequantizesEachInputThenSaturatesOnce) {
  // a at FL 2 -> FL 1: 5 -> 2.5 -> 3, -5 -> -2, 127 -> 64, 100 -> 50; b at FL 0 -> FL 1: x2
  QBuf a = from({5, -5, 127, 100}, 8, 2), b = from({3, 3, 127, -127}, 8, 0);
  QBuf y(8, 1, 4);
  add2(a, b, y.out(), 4);
  EXPECT_EQ(values(y), (std::vector<int64_t>{9, 4, 127, -128}));
  // Saturation happens once, after the exact sum: 200 - 100 = 100 (not 127 - 100).
  QBuf a16 = from({200, -200, 30000}, 16, 0), b8 = from({-100, 100, -128}, 8, 0);
  QBuf y8(8, 0, 3);
  add2(a16, b8, y8.out(), 3);
  EXPECT_EQ(values(y8), (std::vector<int64_t>{100, -100, 127}));
  // Inputs are saturated to int32 only: 30000 * 2^24 -> INT32_MAX, -30000 * 2^24 -> INT32_MIN,
  // their sum -1.
  QBuf p = from({30000}, 16, 0), m = from({-30000}, 16, 0);
  QBuf y24(8, 24, 1);
  add2(p, m, y24.out(), 1);
  EXPECT_EQ(y24.get(0), -1);
  // fused ReLU; in place
  QBuf c = from({-3, 4, 0}, 8, 0), d = from({1, 1, 1}, 8, 0);
  add2(c, d, c.out(), 3, k::Act::kRelu);
  EXPECT_EQ(values(c), (std::vector<int64_t>{0, 5, 1}));
  // Three inputs: 100 + 100 - 100 = 100 (a pairwise saturating chain would give 27).
  QBuf t1 = from({100}, 8, 0), t2 = from({100}, 8, 0), t3 = from({-100}, 8, 0);
  const k::QIn three[] = {t1.in(), t2.in(), t3.in()};
  QBuf y3(8, 0, 1);
  k::add_q(three, 3, y3.out(), 1);
  EXPECT_EQ(y3.get(0), 100);
  std::vector<float> fa = {1, -2}, fb = {0.5f, 1}, fc = {1, 0}, fy(2);
  const float* fins[] = {fa.data(), fb.data(), fc.data()};
  k::add_f32(fins, 3, fy.data(), 2, k::Act::kRelu);
  EXPECT_EQ(fy, (std::vector<float>{2.5f, 0}));
}

TEST(KernelsEltwise, AddMatchesDefinitionOnRandomFormats) {
  // add_q works in chunks of 256 with one shift decision per input and chunk: compare with the
  // definition (naive_requant to int32 per input, exact sum, one saturation, clamp) over lengths
  // that cross chunk borders, 1..3 inputs of int8 / int16 (4..16 bits), shifts -40..70.
  Rng rng(41);
  for (int trial = 0; trial < 300; ++trial) {
    const size_t count = static_cast<size_t>(uniform(rng, 1, 700));
    const int n = uniform(rng, 1, 3);
    const int y_bits = uniform(rng, 2, 16), y_fl = uniform(rng, -8, 24);
    const k::Act act = static_cast<k::Act>(uniform(rng, 0, 2));
    std::vector<QBuf> ins;
    std::vector<k::QIn> qin;
    for (int i = 0; i < n; ++i) {
      const int bits = uniform(rng, 4, 16);
      const int s = trial % 5 == 0 ? uniform(rng, -40, 70) : uniform(rng, -20, 20);
      ins.push_back(random_q(rng, bits, count, random_fill(rng), y_fl + s));
    }
    for (const QBuf& b : ins) qin.push_back(b.in());
    QBuf y(y_bits, y_fl, count);
    k::add_q(qin.data(), n, y.out(), count, act);
    int64_t lo, hi;
    act_bounds(y_bits, y_fl, act, &lo, &hi);
    for (size_t j = 0; j < count; ++j) {
      __int128 sum = 0;
      for (const QBuf& b : ins) sum += naive_requant(b.get(j), b.fl - y_fl, 32, qmin(32), qmax(32));
      const int64_t want = naive_requant(static_cast<int64_t>(sum), 0, y_bits, lo, hi);
      ASSERT_EQ(y.get(j), want) << "trial " << trial << " element " << j;
    }
  }
}

TEST(KernelsEltwise, ConcatRequantizesEachInput) {
  // outer 2, inner 2; input A 1 channel FL 1 int8, input B 2 channels FL 0 int16 -> y FL 0 int8
  QBuf a = from({3, -3, 4, 5}, 8, 1);                        // [2][1][2]
  QBuf b = from({1, 2, 300, -300, 5, 6, 7, 8}, 16, 0);       // [2][2][2]
  QBuf y(8, 0, 12);
  const k::QIn ins[] = {a.in(), b.in()};
  const int ch[] = {1, 2};
  k::concat_q(ins, ch, 2, 2, 2, y.out());
  // 3 / 2 = 1.5 -> 2, -1.5 -> -1, 2, 2.5 -> 3; 300 -> 127, -300 -> -128
  EXPECT_EQ(values(y), (std::vector<int64_t>{2, -1, 1, 2, 127, -128, 2, 3, 5, 6, 7, 8}));
  // same formats copy unchanged
  QBuf y2(8, 1, 8);
  const k::QIn same[] = {a.in(), a.in()};
  const int ch1[] = {1, 1};
  k::concat_q(same, ch1, 2, 2, 2, y2.out());
  EXPECT_EQ(values(y2), (std::vector<int64_t>{3, -3, 3, -3, 4, 5, 4, 5}));
  std::vector<float> f1 = {1, 2}, f2 = {3, 4, 5, 6}, fy(6);
  const float* fins[] = {f1.data(), f2.data()};
  const int fch[] = {1, 2};
  k::concat_f32(fins, fch, 2, 2, 1, fy.data());
  EXPECT_EQ(fy, (std::vector<float>{1, 3, 4, 2, 5, 6}));
}

TEST(KernelsEltwise, RequantizeAndIntegerRelu) {
  QBuf x = from({7, -7, 6, -6, 100, -100}, 8, 2);
  QBuf y(4, 0, 6);  // s = 2, 4 bits: 1.75 -> 2, -1.75 -> -2, 1.5 -> 2, -1.5 -> -1, 25 -> 7, -25 -> -8
  k::requantize_q(x.in(), y.out(), 6);
  EXPECT_EQ(values(y), (std::vector<int64_t>{2, -2, 2, -1, 7, -8}));
  QBuf r(8, 2, 6);  // same format, ReLU6: upper bound 24
  k::requantize_q(x.in(), r.out(), 6, k::Act::kRelu6);
  EXPECT_EQ(values(r), (std::vector<int64_t>{7, 0, 6, 0, 24, 0}));
  k::requantize_q(x.in(), x.out(), 6, k::Act::kRelu);  // in place
  EXPECT_EQ(values(x), (std::vector<int64_t>{7, 0, 6, 0, 100, 0}));
  QBuf w = from({1, -1, 0}, 8, 0);
  QBuf up(16, 20, 3);  // s = -20: 2^20 saturates to 16 bits
  k::requantize_q(w.in(), up.out(), 3);
  EXPECT_EQ(values(up), (std::vector<int64_t>{32767, -32768, 0}));
}

TEST(KernelsEltwise, TableActivation) {
  // 4-bit input: 16 entries, table[i] = 2i - 15, indexed by q + 8.
  std::vector<int8_t> t8(16);
  for (int i = 0; i < 16; ++i) t8[static_cast<size_t>(i)] = static_cast<int8_t>(2 * i - 15);
  QBuf x = from({-8, -1, 0, 7, 100, -100}, 4, 0);  // 100 / -100 lie outside 4 bits: saturated first
  QBuf y(8, 0, 6);
  k::lut_q(x.in(), t8.data(), y.out(), 6);
  EXPECT_EQ(values(y), (std::vector<int64_t>{-15, -1, 1, 15, 15, -15}));
  // 9-bit output (int16 table), 8-bit input
  std::vector<int16_t> t16(256);
  for (int i = 0; i < 256; ++i) t16[static_cast<size_t>(i)] = static_cast<int16_t>(i * 2 - 256);
  QBuf x8 = from({-128, 127, 0}, 8, 0);
  QBuf y16(9, 0, 3);
  k::lut_q(x8.in(), t16.data(), y16.out(), 3);
  EXPECT_EQ(values(y16), (std::vector<int64_t>{-256, 254, 0}));
}

TEST(KernelsEltwise, FloatActivationsAndSoftmax) {
  const std::vector<float> x = {-2.0f, -0.5f, 0.0f, 0.5f, 7.0f};
  std::vector<float> y(5);
  k::activation_f32(k::FloatAct::kRelu, x.data(), y.data(), 5);
  EXPECT_EQ(y, (std::vector<float>{0, 0, 0, 0.5f, 7}));
  k::activation_f32(k::FloatAct::kRelu6, x.data(), y.data(), 5);
  EXPECT_EQ(y, (std::vector<float>{0, 0, 0, 0.5f, 6}));
  k::activation_f32(k::FloatAct::kLeakyRelu, x.data(), y.data(), 5, 0.1f);
  EXPECT_FLOAT_EQ(y[0], -0.2f);
  EXPECT_FLOAT_EQ(y[4], 7.0f);
  k::activation_f32(k::FloatAct::kSigmoid, x.data(), y.data(), 5);
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(y[i], 1.0 / (1.0 + std::exp(-static_cast<double>(x[i]))), kF32Tol);
  k::activation_f32(k::FloatAct::kTanh, x.data(), y.data(), 5);
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(y[i], std::tanh(static_cast<double>(x[i])), kF32Tol);

  // softmax over the middle axis of [1][3][2]
  const std::vector<float> s = {1, 1000, 2, 1000, 3, 1000};
  std::vector<float> p(6);
  k::softmax_f32(s.data(), p.data(), 1, 3, 2);
  const double e1 = std::exp(-2.0), e2 = std::exp(-1.0), z = e1 + e2 + 1.0;
  EXPECT_NEAR(p[0], e1 / z, kF32Tol);
  EXPECT_NEAR(p[2], e2 / z, kF32Tol);
  EXPECT_NEAR(p[4], 1.0 / z, kF32Tol);
  for (size_t i : {1, 3, 5}) EXPECT_NEAR(p[i], 1.0 / 3.0, kF32Tol);
}

TEST(KernelsEltwise, QuantizeRoundsHalfUpAndDequantizeIsExact) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {0.5f, -0.5f, 1.5f, -1.5f, 0.7f, 1000.0f, -1000.0f, nan, inf, -inf};
  QBuf q(8, 0, x.size());
  k::quantize_f32(x.data(), q.out(), x.size());
  EXPECT_EQ(values(q), (std::vector<int64_t>{1, 0, 2, -1, 1, 127, -128, 0, 127, -128}));
  QBuf q4(8, 4, 2);  // 0.7 * 16 = 11.2 -> 11; -0.71875 * 16 = -11.5 -> -11
  const std::vector<float> x4 = {0.7f, -0.71875f};
  k::quantize_f32(x4.data(), q4.out(), 2);
  EXPECT_EQ(values(q4), (std::vector<int64_t>{11, -11}));
  QBuf q16(12, -2, 3);  // steps of 4, 12 bits
  const std::vector<float> x16 = {102.0f, -102.0f, 1e9f};
  k::quantize_f32(x16.data(), q16.out(), 3);
  EXPECT_EQ(values(q16), (std::vector<int64_t>{26, -25, 2047}));
  std::vector<float> back(3);
  k::dequantize_q(q16.in(), back.data(), 3);
  EXPECT_EQ(back, (std::vector<float>{104.0f, -100.0f, 8188.0f}));
  QBuf small = from({1, -32768}, 16, 24);
  k::dequantize_q(small.in(), back.data(), 2);
  EXPECT_EQ(back[0], std::ldexp(1.0f, -24));
  EXPECT_EQ(back[1], -std::ldexp(1.0f, -9));
}

TEST(KernelsEltwise, PathReport) {
  const std::string isa = k::isa_name();
  EXPECT_TRUE(isa == "avx2" || isa == "scalar");
  const std::string paths = k::active_paths();
  EXPECT_NE(paths.find("conv2d_q=" + isa), std::string::npos) << paths;
  IsaScope s(k::Isa::kScalar);
  EXPECT_EQ(std::string(k::isa_name()), "scalar");
  EXPECT_NE(std::string(k::active_paths()).find("dense_q=scalar"), std::string::npos);
}

}  // namespace
