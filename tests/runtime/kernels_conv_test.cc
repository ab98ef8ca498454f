// Convolution kernels: conv2d_q_ref against hand-computed outputs and against a naive
// convolution written here; the AVX2 paths (GEMM and depthwise) against conv2d_q_ref bit for
// bit over swept shapes and saturating data; fp32 against a double-precision loop.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/internal.h"
#include "kernels_testing.h"

namespace {

using namespace kt;

constexpr float kF32Tol = 1e-4f;  // relative to the largest |output|, fp32 vs double

struct ConvCase {
  k::Conv2dParams p;
  QBuf x, w, y;
  std::vector<int8_t> fl_w;
  std::vector<int32_t> bias;  // empty: no bias
  bool acc32 = false;

  k::QWeights wq() const {
    return {w.bits, fl_w.data(), static_cast<int>(fl_w.size()), bias.empty() ? nullptr : bias.data(), acc32};
  }
  size_t out_count() const { return static_cast<size_t>(p.n) * p.out_c * p.out_h * p.out_w; }
};

/// The convolution from its definition, int64 accumulator, independent requantization.
QBuf naive_conv(const ConvCase& c) {
  const auto& p = c.p;
  QBuf y(c.y.bits, c.y.fl, c.out_count());
  const int cin_g = p.in_c / p.groups, cout_g = p.out_c / p.groups;
  int64_t lo, hi;
  act_bounds(c.y.bits, c.y.fl, p.act, &lo, &hi);
  size_t o = 0;
  for (int n = 0; n < p.n; ++n)
    for (int oc = 0; oc < p.out_c; ++oc)
      for (int oh = 0; oh < p.out_h; ++oh)
        for (int ow = 0; ow < p.out_w; ++ow, ++o) {
          int64_t acc = c.bias.empty() ? 0 : c.bias[oc];
          for (int icg = 0; icg < cin_g; ++icg)
            for (int i = 0; i < p.kernel_h; ++i)
              for (int j = 0; j < p.kernel_w; ++j) {
                const int ic = oc / cout_g * cin_g + icg;
                const int h = oh * p.stride_h + i * p.dilation_h - p.pad_top;
                const int w = ow * p.stride_w + j * p.dilation_w - p.pad_left;
                if (h < 0 || w < 0 || h >= p.in_h || w >= p.in_w) continue;
                acc += c.x.get(((static_cast<size_t>(n) * p.in_c + ic) * p.in_h + h) * p.in_w + w) *
                       c.w.get(((static_cast<size_t>(oc) * cin_g + icg) * p.kernel_h + i) * p.kernel_w + j);
              }
          const int s = c.x.fl + c.fl_w[c.fl_w.size() == 1 ? 0 : oc] - c.y.fl;
          y.set(o, naive_requant(acc, s, c.y.bits, lo, hi));
        }
  return y;
}

QBuf run_ref(ConvCase& c) {
  c.y = QBuf(c.y.bits, c.y.fl, c.out_count());
  k::conv2d_q_ref(c.p, c.x.in(), c.w.data(), c.wq(), c.y.out());
  return c.y;
}

/// Builds a case with the given geometry and random data / formats.
ConvCase make_case(Rng& rng, const k::Conv2dParams& geom, int x_bits, int w_bits, int y_bits) {
  ConvCase c;
  c.p = geom;
  k::conv2d_fill_out_dims(c.p);
  const int cin_g = c.p.in_c / c.p.groups;
  const int K = cin_g * c.p.kernel_h * c.p.kernel_w;
  c.x = random_q(rng, x_bits, static_cast<size_t>(c.p.n) * c.p.in_c * c.p.in_h * c.p.in_w, random_fill(rng),
                 uniform(rng, -8, 24));
  c.w = random_q(rng, w_bits, static_cast<size_t>(c.p.out_c) * K, random_fill(rng));
  const int fl_w = uniform(rng, -8, 24);
  if (uniform(rng, 0, 1)) c.fl_w.assign(1, static_cast<int8_t>(fl_w));
  else
    for (int i = 0; i < c.p.out_c; ++i) c.fl_w.push_back(static_cast<int8_t>(fl_w + uniform(rng, -3, 3)));
  // A shift that keeps typical outputs inside the output range most of the time, sometimes
  // anything from -40 to 70 (saturating left shifts, s >= 63).
  const double typical = std::log2(std::sqrt(static_cast<double>(K)) + 1) + (x_bits - 2) + (w_bits - 2);
  const int s = uniform(rng, 0, 4) == 0 ? uniform(rng, -40, 70)
                                        : static_cast<int>(typical) - (y_bits - 2) + uniform(rng, -2, 2);
  c.y = QBuf(y_bits, c.x.fl + fl_w - s, 0);
  switch (uniform(rng, 0, 3)) {
    case 0: break;
    case 1:
      for (int i = 0; i < c.p.out_c; ++i) c.bias.push_back(uniform(rng, -1000, 1000));
      break;
    case 2:
      for (int i = 0; i < c.p.out_c; ++i) c.bias.push_back(uniform(rng, 0, 1) ? INT32_MAX : INT32_MIN);
      break;
    default:
      for (int i = 0; i < c.p.out_c; ++i) c.bias.push_back(static_cast<int32_t>(uniform64(rng, INT32_MIN, INT32_MAX)));
  }
  c.p.act = static_cast<k::Act>(uniform(rng, 0, 2));
  c.acc32 = uniform(rng, 0, 1) && acc32_ok(c.w, c.p.out_c, K, c.bias, x_bits);
  return c;
}

int random_bits(Rng& rng, bool s16) { return s16 ? uniform(rng, 9, 16) : uniform(rng, 2, 8); }

// ---------------------------------------------------------------------------------------------
// Hand-checked cases

ConvCase one_by_one(std::vector<int64_t> xs, int x_bits, int fl_w, int y_bits) {
  ConvCase c;
  c.p.in_c = c.p.out_c = 1;
  c.p.in_h = 1;
  c.p.in_w = static_cast<int>(xs.size());
  k::conv2d_fill_out_dims(c.p);
  c.x = QBuf(x_bits, 0, xs.size());
  for (size_t i = 0; i < xs.size(); ++i) c.x.set(i, xs[i]);
  c.w = QBuf(8, 0, 1);
  c.w.set(0, 1);
  c.fl_w = {static_cast<int8_t>(fl_w)};
  c.y = QBuf(y_bits, 0, 0);
  return c;
}

TEST(KernelsConv, RoundsHalfUpAndSaturatesBothEnds) {
  // acc = x, s = 3: y = floor(x / 8 + 1/2), saturated to 8 bits.
  ConvCase c = one_by_one({4, -4, 12, -12, 5, -5, 1000, -1000, 3, 1100, -1100, -1028, -1029}, 12, 3, 8);
  EXPECT_EQ(values(run_ref(c)), (std::vector<int64_t>{1, 0, 2, -1, 1, -1, 125, -125, 0, 127, -128, -128, -128}));
  EXPECT_EQ(values(naive_conv(c)), values(c.y));
  // 4-bit output in int8 storage saturates at -8 / 7, not at the storage type's limits.
  ConvCase d = one_by_one({56, 60, -64, -68, -500, 500}, 12, 3, 4);
  EXPECT_EQ(values(run_ref(d)), (std::vector<int64_t>{7, 7, -8, -8, -8, 7}));
}

TEST(KernelsConv, ShiftsAtOrBelowZeroSaturateAndShiftsOf63GiveZero) {
  ConvCase c = one_by_one({1, -1, 0, 3, -40}, 8, -2, 8);  // s = -2: y = 4x, saturated
  EXPECT_EQ(values(run_ref(c)), (std::vector<int64_t>{4, -4, 0, 12, -128}));
  ConvCase far = one_by_one({1, -1, 0}, 8, -40, 16);  // s = -40: any nonzero saturates
  EXPECT_EQ(values(run_ref(far)), (std::vector<int64_t>{32767, -32768, 0}));
  for (int fl_w : {63, 70, 127}) {
    ConvCase z = one_by_one({127, -128, 5}, 8, fl_w, 8);
    z.bias = {INT32_MIN};
    EXPECT_EQ(values(run_ref(z)), (std::vector<int64_t>{0, 0, 0})) << "s = " << fl_w;
  }
}

TEST(KernelsConv, AsymmetricPadsStrideAndDilation) {
  ConvCase c;
  c.p.in_c = c.p.out_c = 1;
  c.p.in_h = c.p.in_w = 4;
  c.p.kernel_h = c.p.kernel_w = 3;
  c.p.stride_h = c.p.stride_w = 2;
  c.p.pad_top = 1, c.p.pad_left = 1, c.p.pad_bottom = 1, c.p.pad_right = 1;
  k::conv2d_fill_out_dims(c.p);
  ASSERT_EQ(c.p.out_h, 2);
  ASSERT_EQ(c.p.out_w, 2);
  c.x = QBuf(8, 0, 16);
  for (int i = 0; i < 16; ++i) c.x.set(static_cast<size_t>(i), i + 1);  // 1..16
  c.w = QBuf(8, 0, 9);
  for (int i = 0; i < 9; ++i) c.w.set(static_cast<size_t>(i), 1);
  c.fl_w = {0};
  c.bias = {1};
  c.y = QBuf(8, 0, 0);
  EXPECT_EQ(values(run_ref(c)), (std::vector<int64_t>{15, 31, 58, 100}));
  // pads {top 0, left 1, bottom 1, right 0}
  c.p.pad_top = 0, c.p.pad_left = 1, c.p.pad_bottom = 1, c.p.pad_right = 0;
  k::conv2d_fill_out_dims(c.p);
  c.bias = {0};
  EXPECT_EQ(values(run_ref(c)), (std::vector<int64_t>{33, 63, 46, 78}));
  // dilation 2 on a 5x5 input 0..24, no padding: the nine even-indexed cells sum to 108
  ConvCase d;
  d.p.in_c = d.p.out_c = 1;
  d.p.in_h = d.p.in_w = 5;
  d.p.kernel_h = d.p.kernel_w = 3;
  d.p.dilation_h = d.p.dilation_w = 2;
  k::conv2d_fill_out_dims(d.p);
  ASSERT_EQ(d.p.out_h * d.p.out_w, 1);
  d.x = QBuf(8, 0, 25);
  for (int i = 0; i < 25; ++i) d.x.set(static_cast<size_t>(i), i);
  d.w = c.w;
  d.fl_w = {0};
  d.y = QBuf(8, 0, 0);
  EXPECT_EQ(values(run_ref(d)), (std::vector<int64_t>{108}));
}

TEST(KernelsConv, PerChannelFormatsAndRelu6Clamp) {
  ConvCase c;
  c.p.in_c = 1, c.p.out_c = 2, c.p.in_h = 1, c.p.in_w = 2;
  k::conv2d_fill_out_dims(c.p);
  c.x = QBuf(8, 0, 2);
  c.x.set(0, 10), c.x.set(1, -3);
  c.w = QBuf(8, 0, 2);
  c.w.set(0, 1), c.w.set(1, 1);
  c.fl_w = {0, 2};       // s = -2 for channel 0, 0 for channel 1
  c.y = QBuf(8, 2, 0);   // FL_y = 2: ReLU6 upper bound floor(6 * 4 + 0.5) = 24
  EXPECT_EQ(values(run_ref(c)), (std::vector<int64_t>{40, -12, 10, -3}));
  c.p.act = k::Act::kRelu;
  EXPECT_EQ(values(run_ref(c)), (std::vector<int64_t>{40, 0, 10, 0}));
  c.p.act = k::Act::kRelu6;
  EXPECT_EQ(values(run_ref(c)), (std::vector<int64_t>{24, 0, 10, 0}));
  c.y = QBuf(8, 5, 0);  // FL_y = 5: 6 * 32 = 192 saturates to 127
  c.fl_w = {3, 5};      // s = -2, 0
  EXPECT_EQ(values(run_ref(c)), (std::vector<int64_t>{40, 0, 10, 0}));
  c.x.set(0, 100);
  EXPECT_EQ(values(run_ref(c)), (std::vector<int64_t>{127, 0, 100, 0}));
}

// ---------------------------------------------------------------------------------------------
// Reference against the naive convolution

TEST(KernelsConv, ReferenceMatchesNaiveOnRandomCases) {
  Rng rng(11);
  for (int iter = 0; iter < 300; ++iter) {
    k::Conv2dParams g;
    g.n = uniform(rng, 1, 2);
    g.groups = uniform(rng, 1, 3);
    g.in_c = g.groups * uniform(rng, 1, 3);
    g.out_c = g.groups * uniform(rng, 1, 3);
    g.kernel_h = uniform(rng, 1, 3), g.kernel_w = uniform(rng, 1, 3);
    random_window(rng, g, 7, 7, 3, 2);
    if (!has_output(g)) continue;
    ConvCase c = make_case(rng, g, random_bits(rng, uniform(rng, 0, 1)), random_bits(rng, uniform(rng, 0, 1)),
                           random_bits(rng, uniform(rng, 0, 1)));
    const QBuf want = naive_conv(c);
    EXPECT_SAME_Q(run_ref(c), want, "case " + std::to_string(iter));
  }
}

// ---------------------------------------------------------------------------------------------
// AVX2 against the reference

class ConvAvx2 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!k::cpu_fast_paths()) GTEST_SKIP() << "this CPU has no AVX2";
  }

  /// Runs the fast path `which` (0: GEMM, 1: depthwise) on c and compares with conv2d_q_ref.
  void check(ConvCase& c, int which, const std::string& what) {
    const QBuf want = run_ref(c);
    const k::FastPaths* f = k::cpu_fast_paths();
    const size_t bytes = which == 0 ? f->conv2d_q_scratch(c.p, c.x.bits, c.w.bits) : f->dwconv_q_scratch(c.p, c.x.bits, c.w.bits);
    std::vector<uint8_t> scratch(bytes + 1, 0xA5);
    QBuf got(c.y.bits, c.y.fl, c.out_count());
    // scratch + 1: the kernels align their scratch themselves.
    const bool ran = which == 0 ? f->conv2d_q(c.p, c.x.in(), c.w.data(), c.wq(), got.out(), scratch.data() + 1)
                                : f->dwconv_q(c.p, c.x.in(), c.w.data(), c.wq(), got.out(), scratch.data() + 1);
    if (which == 1 && dw_needs_int64(c)) {
      // The depthwise path requantizes in int32 lanes only: it declines such a layer, and the
      // public entry point runs it on the GEMM path.
      ASSERT_FALSE(ran) << what;
      IsaScope avx2(k::Isa::kAvx2);
      std::vector<uint8_t> s2(k::conv2d_q_scratch_size(c.p, c.x.bits, c.w.bits));
      k::conv2d_q(c.p, c.x.in(), c.w.data(), c.wq(), got.out(), s2.data());
      EXPECT_SAME_Q(got, want, what + " (declined by the depthwise path)");
      ++checked_;
      return;
    }
    ASSERT_TRUE(ran) << what;
    EXPECT_SAME_Q(got, want, what);
    ++checked_;
  }
  /// Whether a depthwise case has a channel whose requantization does not fit int32 lanes:
  /// s > 31, or the accumulator bound (taps * 2^14, 0 under acc32) plus |bias| >= 2^31.
  static bool dw_needs_int64(const ConvCase& c) {
    const int64_t bound = c.acc32 ? 0 : int64_t{c.p.kernel_h * c.p.kernel_w} << 14;
    for (int ch = 0; ch < c.p.out_c; ++ch) {
      const int s = c.x.fl + c.fl_w[c.fl_w.size() == 1 ? 0 : static_cast<size_t>(ch)] - c.y.fl;
      const int64_t b = c.bias.empty() ? 0 : c.bias[static_cast<size_t>(ch)];
      if (s > 31 || bound + (b < 0 ? -b : b) >= (int64_t{1} << 31)) return true;
    }
    return false;
  }
  int checked_ = 0;
};

std::string describe(const ConvCase& c) {
  const auto& p = c.p;
  return "n" + std::to_string(p.n) + " c" + std::to_string(p.in_c) + "->" + std::to_string(p.out_c) + " g" +
         std::to_string(p.groups) + " " + std::to_string(p.in_h) + "x" + std::to_string(p.in_w) + " k" +
         std::to_string(p.kernel_h) + "x" + std::to_string(p.kernel_w) + " s" + std::to_string(p.stride_h) +
         std::to_string(p.stride_w) + " d" + std::to_string(p.dilation_h) + std::to_string(p.dilation_w) + " pad" +
         std::to_string(p.pad_top) + std::to_string(p.pad_left) + std::to_string(p.pad_bottom) +
         std::to_string(p.pad_right) + " bits " + std::to_string(c.x.bits) + "x" + std::to_string(c.w.bits) + "->" +
         std::to_string(c.y.bits) + " acc32 " + std::to_string(c.acc32);
}

TEST_F(ConvAvx2, GemmMatchesReferenceOverChannelCounts) {
  Rng rng(21);
  for (int ch = 1; ch <= 67; ++ch) {
    k::Conv2dParams g;
    g.in_c = ch;
    g.out_c = 68 - ch;
    g.in_h = uniform(rng, 3, 9), g.in_w = uniform(rng, 3, 21);
    g.kernel_h = g.kernel_w = ch % 3 == 0 ? 1 : (ch % 3 == 1 ? 3 : 5);
    g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = g.kernel_h / 2;
    g.stride_h = g.stride_w = 1 + ch % 2;
    const bool s16 = ch % 4 == 0;
    ConvCase c = make_case(rng, g, random_bits(rng, s16), random_bits(rng, s16 || ch % 5 == 0), random_bits(rng, ch % 3 == 0));
    check(c, 0, describe(c));
  }
}

TEST_F(ConvAvx2, GemmPointwisePacksStraightFromTheInput) {
  // 1x1, stride 1, no padding: the GEMM packs pixel tiles straight from x (no padded planes).
  // Pixel counts 1..80 (every tail of the 16-pixel blocks, the last block of the tensor
  // partial), odd and even input channel counts (an odd last channel pairs with itself),
  // groups, batch 2, every int8 / int16 mix.
  Rng rng(28);
  for (int iter = 0; iter < 160; ++iter) {
    k::Conv2dParams g;
    g.n = uniform(rng, 1, 2);
    g.groups = iter % 5 == 0 ? uniform(rng, 2, 3) : 1;
    g.in_c = g.groups * uniform(rng, 1, 40);
    g.out_c = g.groups * uniform(rng, 1, 20);
    g.in_h = iter % 2 ? 1 : uniform(rng, 1, 9);
    g.in_w = iter % 2 ? iter / 2 + 1 : uniform(rng, 1, 9);
    g.kernel_h = g.kernel_w = 1;
    const int combo = iter % 4;  // s8 x s8, s16 x s16, s8 x s16, s16 x s8
    ConvCase c = make_case(rng, g, random_bits(rng, combo == 1 || combo == 3), random_bits(rng, combo == 1 || combo == 2),
                           random_bits(rng, uniform(rng, 0, 1)));
    check(c, 0, describe(c));
  }
}

TEST_F(ConvAvx2, GemmMatchesReferenceOnRandomGeometry) {
  Rng rng(22);
  for (int iter = 0; iter < 250; ++iter) {
    k::Conv2dParams g;
    g.n = uniform(rng, 1, 2);
    const int kinds[] = {1, 3, 5};
    g.kernel_h = kinds[uniform(rng, 0, 2)];
    g.kernel_w = uniform(rng, 0, 3) == 0 ? kinds[uniform(rng, 0, 2)] : g.kernel_h;
    g.groups = uniform(rng, 0, 2) == 0 ? uniform(rng, 2, 4) : 1;
    g.in_c = g.groups * uniform(rng, 1, 9);
    g.out_c = g.groups * uniform(rng, 1, 9);
    random_window(rng, g, 12, 23, 2, 3);
    if (!has_output(g)) continue;
    const int combo = iter % 4;  // s8 x s8, s16 x s16, s8 x s16, s16 x s8
    ConvCase c = make_case(rng, g, random_bits(rng, combo == 1 || combo == 3), random_bits(rng, combo == 1 || combo == 2),
                           random_bits(rng, uniform(rng, 0, 1)));
    check(c, 0, describe(c));
  }
  EXPECT_GT(checked_, 150);
}

TEST_F(ConvAvx2, GemmExactAtTheInt16PairSumLimit) {
  // (-32768) * (-32768) twice gives the vpmaddwd pair sum 2^31, which wraps in int32: the
  // int64 path must still be exact. Large K with int8 extremes crosses the int32 budget too.
  Rng rng(23);
  for (int fill : {0, 1}) {
    k::Conv2dParams g;
    g.in_c = 37, g.out_c = 5, g.in_h = 6, g.in_w = 19, g.kernel_h = g.kernel_w = 3;
    g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 1;
    ConvCase c = make_case(rng, g, 16, 16, 16);
    c.x = random_q(rng, 16, c.x.size(), fill ? Fill::kMin : Fill::kExtremes, 0);
    c.w = random_q(rng, 16, c.w.size(), Fill::kMin, 0);
    c.fl_w = {0};
    c.y = QBuf(16, -20, 0);  // s = 20: up to 333 * 2^30 / 2^20, saturates
    c.acc32 = false;
    c.p.act = k::Act::kNone;
    check(c, 0, "int16 extremes");
    c.y = QBuf(16, -36, 0);  // s = 36: in range
    check(c, 0, "int16 extremes, in range");
  }
  k::Conv2dParams big;
  big.in_c = 300, big.out_c = 3, big.in_h = 2, big.in_w = 17, big.kernel_h = big.kernel_w = 1;
  ConvCase c = make_case(rng, big, 8, 8, 16);
  c.x = random_q(rng, 8, c.x.size(), Fill::kMin, 0);
  c.w = random_q(rng, 8, c.w.size(), Fill::kMin, 0);
  c.fl_w = {0};
  c.y = QBuf(16, -8, 0);
  c.acc32 = false;
  c.p.act = k::Act::kNone;
  check(c, 0, "int8 extremes, K = 300");
}

TEST_F(ConvAvx2, DepthwiseMatchesReference) {
  Rng rng(24);
  for (int iter = 0; iter < 300; ++iter) {
    k::Conv2dParams g;
    g.n = uniform(rng, 1, 2);
    g.in_c = g.groups = iter < 67 ? iter + 1 : uniform(rng, 1, 24);
    g.out_c = g.in_c * (uniform(rng, 0, 3) == 0 ? 2 : 1);
    const int kinds[] = {1, 3, 5};
    g.kernel_h = kinds[uniform(rng, 0, 2)];
    g.kernel_w = uniform(rng, 0, 3) == 0 ? kinds[uniform(rng, 0, 2)] : g.kernel_h;
    random_window(rng, g, 14, 40, 3, 3);
    if (!has_output(g)) continue;
    ConvCase c = make_case(rng, g, random_bits(rng, false), random_bits(rng, false), random_bits(rng, uniform(rng, 0, 1)));
    check(c, 1, describe(c));
  }
  EXPECT_GT(checked_, 200);
}

TEST_F(ConvAvx2, DepthwiseNarrowPlanesTwoRowsPerVector) {
  // Output width <= 8 runs two output rows per vector, and full-width stores that spill into
  // outputs written later: every width 1..8, odd and even heights, batch 1 / 2, stride 1 / 2,
  // pads, 3x3 and 5x5; the outputs must match the reference and nothing past the tensor may be
  // written (a canary tail after the output).
  Rng rng(27);
  int narrow = 0;
  for (int iter = 0; iter < 600; ++iter) {
    k::Conv2dParams g;
    g.n = uniform(rng, 1, 2);
    g.in_c = g.groups = uniform(rng, 1, 20);
    g.out_c = g.in_c * (iter % 5 == 0 ? 2 : 1);
    g.kernel_h = g.kernel_w = iter % 4 == 0 ? 5 : 3;
    g.stride_h = g.stride_w = uniform(rng, 1, 2);
    g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = uniform(rng, 0, 2);
    g.in_w = uniform(rng, 1, 16), g.in_h = uniform(rng, 1, 12);
    if (!has_output(g)) continue;
    ConvCase c = make_case(rng, g, uniform(rng, 2, 8), uniform(rng, 2, 8), random_bits(rng, uniform(rng, 0, 1)));
    if (c.p.out_w > 8 || dw_needs_int64(c)) continue;  // the declined cases: check() above
    const QBuf want = run_ref(c);
    const k::FastPaths* f = k::cpu_fast_paths();
    std::vector<uint8_t> scratch(f->dwconv_q_scratch(c.p, c.x.bits, c.w.bits));
    const size_t count = c.out_count();
    QBuf got(c.y.bits, c.y.fl, count + 32);
    for (size_t i = 0; i < count + 32; ++i) got.set(i, 1);
    ASSERT_TRUE(f->dwconv_q(c.p, c.x.in(), c.w.data(), c.wq(), got.out(), scratch.data()));
    for (size_t i = 0; i < count; ++i) ASSERT_EQ(got.get(i), want.get(i)) << describe(c) << " element " << i;
    for (size_t i = count; i < count + 32; ++i) ASSERT_EQ(got.get(i), 1) << describe(c) << " wrote past the end";
    ++narrow;
  }
  EXPECT_GT(narrow, 200);
}

TEST_F(ConvAvx2, DepthwiseDeclinesInt16AndDispatchFallsBack) {
  Rng rng(25);
  k::Conv2dParams g;
  g.in_c = g.out_c = g.groups = 5, g.in_h = g.in_w = 6, g.kernel_h = g.kernel_w = 3;
  ConvCase c = make_case(rng, g, 12, 8, 8);
  const k::FastPaths* f = k::cpu_fast_paths();
  std::vector<uint8_t> scratch(k::conv2d_q_scratch_size(c.p, 12, 8));
  QBuf got(c.y.bits, c.y.fl, c.out_count());
  EXPECT_FALSE(f->dwconv_q(c.p, c.x.in(), c.w.data(), c.wq(), got.out(), scratch.data()));
  // The public entry point still gives the reference's integers (through the GEMM path).
  IsaScope avx2(k::Isa::kAvx2);
  k::conv2d_q(c.p, c.x.in(), c.w.data(), c.wq(), got.out(), scratch.data());
  EXPECT_SAME_Q(got, run_ref(c), "dispatch");
}

TEST(KernelsConv, DispatchGivesTheSameIntegersOnEveryPath) {
  Rng rng(26);
  for (int iter = 0; iter < 40; ++iter) {
    k::Conv2dParams g;
    g.in_c = uniform(rng, 1, 8), g.out_c = uniform(rng, 1, 8);
    if (iter % 2) g.out_c = g.groups = g.in_c;
    g.in_h = uniform(rng, 2, 9), g.in_w = uniform(rng, 2, 9), g.kernel_h = g.kernel_w = 3;
    g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 1;
    ConvCase c = make_case(rng, g, 8, 8, 8);
    std::vector<uint8_t> scratch(k::conv2d_q_scratch_size(c.p, 8, 8));
    QBuf a(8, c.y.fl, c.out_count()), b(8, c.y.fl, c.out_count());
    {
      IsaScope s(k::Isa::kScalar);
      EXPECT_EQ(std::string(k::isa_name()), "scalar");
      k::conv2d_q(c.p, c.x.in(), c.w.data(), c.wq(), a.out(), scratch.data());
    }
    {
      IsaScope s(k::detected_isa());
      k::conv2d_q(c.p, c.x.in(), c.w.data(), c.wq(), b.out(), scratch.data());
    }
    EXPECT_SAME_Q(a, b, "paths");
    EXPECT_SAME_Q(a, naive_conv(c), "naive");
  }
}

// ---------------------------------------------------------------------------------------------
// fp32

TEST(KernelsConv, Float32MatchesDoubleLoop) {
  Rng rng(27);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int iter = 0; iter < 60; ++iter) {
    k::Conv2dParams p;
    p.n = uniform(rng, 1, 2);
    p.groups = uniform(rng, 1, 2);
    p.in_c = p.groups * uniform(rng, 1, 4), p.out_c = p.groups * uniform(rng, 1, 4);
    p.in_h = uniform(rng, 1, 9), p.in_w = uniform(rng, 1, 9);
    p.kernel_h = uniform(rng, 1, 3), p.kernel_w = uniform(rng, 1, 3);
    p.stride_h = uniform(rng, 1, 2), p.stride_w = uniform(rng, 1, 2);
    p.dilation_h = uniform(rng, 1, 2);
    p.pad_top = uniform(rng, 0, 1), p.pad_left = uniform(rng, 0, 2), p.pad_bottom = uniform(rng, 0, 2);
    p.act = static_cast<k::Act>(iter % 3);
    if (iter % 5 == 0) p = k::Conv2dParams{1, 3, 5, 5, 4, 0, 0};  // 1x1, read directly
    k::conv2d_fill_out_dims(p);
    if (p.out_h < 1 || p.out_w < 1) continue;
    const int cin_g = p.in_c / p.groups;
    std::vector<float> x(static_cast<size_t>(p.n) * p.in_c * p.in_h * p.in_w), w(static_cast<size_t>(p.out_c) * cin_g * p.kernel_h * p.kernel_w),
        b(static_cast<size_t>(p.out_c));
    for (auto* v : {&x, &w, &b})
      for (auto& e : *v) e = u(rng) * 4.0f;
    const size_t count = static_cast<size_t>(p.n) * p.out_c * p.out_h * p.out_w;
    std::vector<float> ref(count), fast(count);
    std::vector<double> want(count);
    size_t o = 0;
    for (int n = 0; n < p.n; ++n)
      for (int oc = 0; oc < p.out_c; ++oc)
        for (int oh = 0; oh < p.out_h; ++oh)
          for (int ow = 0; ow < p.out_w; ++ow, ++o) {
            double acc = b[static_cast<size_t>(oc)];
            for (int icg = 0; icg < cin_g; ++icg)
              for (int i = 0; i < p.kernel_h; ++i)
                for (int j = 0; j < p.kernel_w; ++j) {
                  const int h = oh * p.stride_h + i * p.dilation_h - p.pad_top, ww = ow * p.stride_w + j * p.dilation_w - p.pad_left;
                  if (h < 0 || ww < 0 || h >= p.in_h || ww >= p.in_w) continue;
                  const int ic = oc / (p.out_c / p.groups) * cin_g + icg;
                  acc += static_cast<double>(x[((static_cast<size_t>(n) * p.in_c + ic) * p.in_h + h) * p.in_w + ww]) *
                         w[((static_cast<size_t>(oc) * cin_g + icg) * p.kernel_h + i) * p.kernel_w + j];
                }
            if (p.act != k::Act::kNone) acc = std::max(acc, 0.0);
            if (p.act == k::Act::kRelu6) acc = std::min(acc, 6.0);
            want[o] = acc;
          }
    std::vector<uint8_t> scratch(k::conv2d_f32_scratch_size(p));
    k::conv2d_f32_ref(p, x.data(), w.data(), b.data(), ref.data());
    k::conv2d_f32(p, x.data(), w.data(), b.data(), fast.data(), scratch.data());
    double peak = 1e-6;
    for (double v : want) peak = std::max(peak, std::fabs(v));
    for (size_t i = 0; i < count; ++i) {
      ASSERT_NEAR(ref[i], want[i], kF32Tol * peak) << "ref " << i;
      ASSERT_NEAR(fast[i], want[i], kF32Tol * peak) << "im2col " << i;
    }
  }
}

}  // namespace
