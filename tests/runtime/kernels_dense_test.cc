// Dense (Linear) kernels: dense_q_ref against hand-computed outputs and a naive loop; the AVX2
// path against dense_q_ref bit for bit over sizes, tails, type mixes and saturating data;
// fp32 against double.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/internal.h"
#include "kernels_testing.h"

namespace {

using namespace kt;

constexpr float kF32Tol = 1e-5f;  // relative to the largest |output|

struct DenseCase {
  k::DenseParams p;
  QBuf x, w;
  int y_bits = 8, fl_y = 0;
  std::vector<int8_t> fl_w;
  std::vector<int32_t> bias;
  bool acc32 = false;
  k::QWeights wq() const {
    return {w.bits, fl_w.data(), static_cast<int>(fl_w.size()), bias.empty() ? nullptr : bias.data(), acc32};
  }
};

QBuf naive_dense(const DenseCase& c) {
  QBuf y(c.y_bits, c.fl_y, static_cast<size_t>(c.p.n) * c.p.out);
  int64_t lo, hi;
  act_bounds(c.y_bits, c.fl_y, c.p.act, &lo, &hi);
  for (int n = 0; n < c.p.n; ++n)
    for (int o = 0; o < c.p.out; ++o) {
      int64_t acc = c.bias.empty() ? 0 : c.bias[static_cast<size_t>(o)];
      for (int i = 0; i < c.p.in; ++i)
        acc += c.x.get(static_cast<size_t>(n) * c.p.in + i) * c.w.get(static_cast<size_t>(o) * c.p.in + i);
      const int s = c.x.fl + c.fl_w[c.fl_w.size() == 1 ? 0 : static_cast<size_t>(o)] - c.fl_y;
      y.set(static_cast<size_t>(n) * c.p.out + o, naive_requant(acc, s, c.y_bits, lo, hi));
    }
  return y;
}

QBuf run_ref(const DenseCase& c) {
  QBuf y(c.y_bits, c.fl_y, static_cast<size_t>(c.p.n) * c.p.out);
  k::dense_q_ref(c.p, c.x.in(), c.w.data(), c.wq(), y.out());
  return y;
}

DenseCase make_case(Rng& rng, int n, int in, int out, int x_bits, int w_bits, int y_bits) {
  DenseCase c;
  c.p = {n, in, out, static_cast<k::Act>(uniform(rng, 0, 2))};
  c.x = random_q(rng, x_bits, static_cast<size_t>(n) * in, random_fill(rng), uniform(rng, -8, 24));
  c.w = random_q(rng, w_bits, static_cast<size_t>(in) * out, random_fill(rng));
  const int fl_w = uniform(rng, -8, 24);
  if (uniform(rng, 0, 1)) c.fl_w.assign(1, static_cast<int8_t>(fl_w));
  else
    for (int i = 0; i < out; ++i) c.fl_w.push_back(static_cast<int8_t>(fl_w + uniform(rng, -3, 3)));
  const double typical = std::log2(std::sqrt(static_cast<double>(in)) + 1) + (x_bits - 2) + (w_bits - 2);
  const int s = uniform(rng, 0, 4) == 0 ? uniform(rng, -40, 70) : static_cast<int>(typical) - (y_bits - 2) + uniform(rng, -2, 2);
  c.y_bits = y_bits;
  c.fl_y = c.x.fl + fl_w - s;
  const int bias_kind = uniform(rng, 0, 2);
  for (int i = 0; bias_kind && i < out; ++i)
    c.bias.push_back(bias_kind == 1 ? uniform(rng, -5000, 5000) : (uniform(rng, 0, 1) ? INT32_MAX : INT32_MIN));
  c.acc32 = uniform(rng, 0, 1) && acc32_ok(c.w, out, in, c.bias, x_bits);
  return c;
}

int random_bits(Rng& rng, bool s16) { return s16 ? uniform(rng, 9, 16) : uniform(rng, 2, 8); }

TEST(KernelsDense, HandComputed) {
  DenseCase c;
  c.p = {1, 3, 2, k::Act::kNone};
  c.x = QBuf(8, 1, 3);  // x = [3, -2, 5] * 2^-1
  c.x.set(0, 3), c.x.set(1, -2), c.x.set(2, 5);
  c.w = QBuf(8, 0, 6);  // w = [[1, 2, 3], [-4, 0, 1]] * 2^-2
  const int w[] = {1, 2, 3, -4, 0, 1};
  for (int i = 0; i < 6; ++i) c.w.set(static_cast<size_t>(i), w[i]);
  c.fl_w = {2};
  c.bias = {2, -3};  // at FL 3
  c.fl_y = 0;        // s = 3
  // acc = 3 - 4 + 15 + 2 = 16 -> 2; acc = -12 + 5 - 3 = -10 -> floor(-1.25 + 0.5) = -1
  EXPECT_EQ(run_ref(c).s8, (std::vector<int8_t>{2, -1}));
  c.bias = {-8, -2};  // acc = 6 -> 0.75 -> 1; acc = -9 -> -1.125 -> -1
  EXPECT_EQ(run_ref(c).s8, (std::vector<int8_t>{1, -1}));
  c.bias = {-18, 3};  // acc = -4 -> -0.5 -> 0 (half up); acc = -4 -> 0
  EXPECT_EQ(run_ref(c).s8, (std::vector<int8_t>{0, 0}));
  c.bias = {-20, 0};  // acc = -6 -> -0.75 -> -1; acc = -7 -> -0.875 -> -1
  EXPECT_EQ(run_ref(c).s8, (std::vector<int8_t>{-1, -1}));
  EXPECT_SAME_Q(run_ref(c), naive_dense(c), "naive");
}

TEST(KernelsDense, ReferenceMatchesNaive) {
  Rng rng(31);
  for (int iter = 0; iter < 300; ++iter) {
    DenseCase c = make_case(rng, uniform(rng, 1, 3), uniform(rng, 1, 40), uniform(rng, 1, 12), random_bits(rng, uniform(rng, 0, 1)),
                            random_bits(rng, uniform(rng, 0, 1)), random_bits(rng, uniform(rng, 0, 1)));
    EXPECT_SAME_Q(run_ref(c), naive_dense(c), "case " + std::to_string(iter));
  }
}

class DenseAvx2 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!k::cpu_fast_paths()) GTEST_SKIP() << "this CPU has no AVX2";
  }
  void check(const DenseCase& c, const std::string& what) {
    const k::FastPaths* f = k::cpu_fast_paths();
    std::vector<uint8_t> scratch(f->dense_q_scratch(c.p, c.x.bits, c.w.bits) + 3);
    QBuf got(c.y_bits, c.fl_y, static_cast<size_t>(c.p.n) * c.p.out);
    ASSERT_TRUE(f->dense_q(c.p, c.x.in(), c.w.data(), c.wq(), got.out(), scratch.data() + 3)) << what;
    EXPECT_SAME_Q(got, run_ref(c), what + " in " + std::to_string(c.p.in) + " out " + std::to_string(c.p.out) +
                                       " bits " + std::to_string(c.x.bits) + "x" + std::to_string(c.w.bits) +
                                       " acc32 " + std::to_string(c.acc32));
  }
};

TEST_F(DenseAvx2, MatchesReferenceOverSizesAndTypes) {
  Rng rng(32);
  for (int in = 1; in <= 67; ++in)
    for (int combo = 0; combo < 4; ++combo) {
      const int out = uniform(rng, 1, 67);
      DenseCase c = make_case(rng, uniform(rng, 1, 2), in, out, random_bits(rng, combo & 1), random_bits(rng, combo & 2),
                              random_bits(rng, uniform(rng, 0, 1)));
      check(c, "sweep");
    }
  for (int iter = 0; iter < 40; ++iter) {
    DenseCase c = make_case(rng, 1, uniform(rng, 100, 900), uniform(rng, 1, 40), random_bits(rng, iter & 1),
                            random_bits(rng, iter & 2), random_bits(rng, iter & 4));
    check(c, "large");
  }
}

TEST_F(DenseAvx2, ExactAtAccumulatorLimits) {
  Rng rng(33);
  // int16 x int16 at -32768 everywhere: every vpmaddwd pair sum is 2^31.
  DenseCase c = make_case(rng, 1, 77, 6, 16, 16, 16);
  c.x = random_q(rng, 16, c.x.size(), Fill::kMin, 0);
  c.w = random_q(rng, 16, c.w.size(), Fill::kMin, 0);
  c.fl_w = {0};
  c.fl_y = -32;  // s = 32: 77 * 2^30 / 2^32 = 19.25 -> 19
  c.acc32 = false;
  c.p.act = k::Act::kNone;
  c.bias.clear();
  check(c, "int16 pair limit");
  EXPECT_EQ(run_ref(c).s16[0], 19);
  // int8 x int16: the int32 lanes are flushed every 255 pair sums (K = 5000 > 255 * 16).
  DenseCase d = make_case(rng, 1, 5000, 3, 8, 16, 16);
  d.x = random_q(rng, 8, d.x.size(), Fill::kMin, 0);
  d.w = random_q(rng, 16, d.w.size(), Fill::kMin, 0);
  d.fl_w = {0};
  d.fl_y = -20;
  d.acc32 = false;
  d.p.act = k::Act::kNone;
  check(d, "int8 x int16 flush");
  // int8 x int8: flushed every 65,535 pair sums (K = 1,100,000 > 65,535 * 16).
  DenseCase e = make_case(rng, 1, 1100000, 1, 8, 8, 16);
  e.x = random_q(rng, 8, e.x.size(), Fill::kMin, 0);
  e.w = random_q(rng, 8, e.w.size(), Fill::kMin, 0);
  e.fl_w = {0};
  e.fl_y = -20;  // acc = 1.1e6 * 2^14 ~ 2^34.07 -> 2^14.07 after s = 20
  e.acc32 = false;
  e.p.act = k::Act::kNone;
  e.bias.clear();
  check(e, "int8 flush");
  EXPECT_EQ(run_ref(e).s16[0], static_cast<int16_t>((int64_t{1100000} * 16384 + (1 << 19)) >> 20));
}

TEST(KernelsDense, Float32MatchesDouble) {
  Rng rng(34);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (int iter = 0; iter < 50; ++iter) {
    const k::DenseParams p{uniform(rng, 1, 2), uniform(rng, 1, 70), uniform(rng, 1, 20), static_cast<k::Act>(iter % 3)};
    std::vector<float> x(static_cast<size_t>(p.n) * p.in), w(static_cast<size_t>(p.in) * p.out), b(static_cast<size_t>(p.out));
    for (auto* v : {&x, &w, &b})
      for (auto& e : *v) e = u(rng);
    std::vector<float> ref(static_cast<size_t>(p.n) * p.out), fast(ref.size());
    k::dense_f32_ref(p, x.data(), w.data(), b.data(), ref.data());
    k::dense_f32(p, x.data(), w.data(), iter % 4 ? b.data() : nullptr, fast.data());
    for (int n = 0; n < p.n; ++n)
      for (int o = 0; o < p.out; ++o) {
        double acc = 0;
        for (int i = 0; i < p.in; ++i) acc += static_cast<double>(w[static_cast<size_t>(o) * p.in + i]) * x[static_cast<size_t>(n) * p.in + i];
        auto act = [&](double v) {
          if (p.act != k::Act::kNone) v = std::max(v, 0.0);
          return p.act == k::Act::kRelu6 ? std::min(v, 6.0) : v;
        };
        const size_t i = static_cast<size_t>(n) * p.out + o;
        const double tol = kF32Tol * (std::fabs(acc) + p.in * 4.0);
        EXPECT_NEAR(ref[i], act(acc + b[static_cast<size_t>(o)]), tol);
        EXPECT_NEAR(fast[i], act(acc + (iter % 4 ? b[static_cast<size_t>(o)] : 0.0)), tol);
      }
  }
}

}  // namespace
