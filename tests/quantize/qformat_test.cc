// Tests of the [IL.FL] format search (quantize/qformat.h) on crafted distributions. Every
// expected number is derived in the test (by hand in comments, or by an independent
// brute-force loop over fx::quantize), never copied from a run.
#include "quantize/qformat.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "compress/ir/error.h"
#include "runtime/include/shrink_fixed_point.h"

namespace shrink::quant {
namespace {

constexpr double kTol = 1e-12;  // relative tolerance for sums recomputed in double

std::vector<float> uniform(int64_t n, float lo, float hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<float> gaussian(int64_t n, float mean, float sd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(mean, sd);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

// Independent MSE of x in [bits, fl], straight from the integer rule.
double brute_mse(const std::vector<float>& x, int bits, int fl) {
  double s = 0;
  for (float v : x) {
    const double e = fx::dequantize(fx::quantize(v, bits, fl), fl) - static_cast<double>(v);
    s += e * e;
  }
  return s / static_cast<double>(x.size());
}

// The FL in [lo, hi] with the smallest brute-force MSE (first = smallest FL on ties).
int brute_argmin(const std::vector<float>& x, int bits, int lo, int hi) {
  int best = lo;
  double best_mse = brute_mse(x, bits, lo);
  for (int fl = lo + 1; fl <= hi; ++fl) {
    const double m = brute_mse(x, bits, fl);
    if (m < best_mse) best_mse = m, best = fl;
  }
  return best;
}

TEST(QFormatTest, QuantizeScaledEqualsQuantize) {
  // The hot-loop form used by the search must give fx::quantize's integer for every input.
  std::vector<float> x = {0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 1e30f, -1e30f, 1e-40f, -0.0f,
                          INFINITY, -INFINITY, std::nanf(""), 127.5f, -128.5f, 3.0e-8f};
  for (float v : gaussian(20000, 0.0f, 10.0f, 1)) x.push_back(v);
  for (int bits : {2, 5, 8, 16})
    for (int fl = fx::kMinFl; fl <= fx::kMaxFl; ++fl)
      for (float v : x)
        ASSERT_EQ(fx::quantize_scaled(v, bits, std::ldexp(1.0, fl)), fx::quantize(v, bits, fl))
            << v << " bits " << bits << " fl " << fl;
}

TEST(QFormatTest, MaxAbsFlByHand) {
  // 8 bits: qmax = 127, so the value must satisfy floor(v * 2^fl + 0.5) <= 127, v * 2^fl < 127.5.
  EXPECT_EQ(maxabs_fl(1.0, 8), 6);                // 1.0 * 128 = 128 saturates; * 64 = 64 fits
  EXPECT_EQ(maxabs_fl(0.99, 8), 7);               // 126.72 -> 127 fits
  EXPECT_EQ(maxabs_fl(127.5 / 128.0, 8), 6);      // 127.5 rounds up to 128: saturates at fl 7
  EXPECT_EQ(maxabs_fl(127.49 / 128.0, 8), 7);     // rounds to 127
  EXPECT_EQ(maxabs_fl(3.0, 4), 1);                // 4 bits: qmax 7; 3 * 2 = 6 fits, 3 * 4 = 12 not
  EXPECT_EQ(maxabs_fl(100.0, 16), 8);             // 100 * 256 = 25600 <= 32767; * 512 = 51200 not
  EXPECT_EQ(maxabs_fl(1e6, 8), fx::kMinFl);       // would need fl -13: clamped to -8
  EXPECT_EQ(maxabs_fl(1e-12, 8), fx::kMaxFl);     // tiny: clamped to 24
  EXPECT_EQ(maxabs_fl(0.0, 8), fx::kMaxFl);       // all zero: the largest legal FL
  EXPECT_EQ(maxabs_fl(300.0, 8), -2);             // negative FL: 300 / 4 = 75 fits, / 2 = 150 not
}

TEST(QFormatTest, UniformMaxAbsAndMse) {
  const auto x = uniform(100000, -1.0f, 1.0f, 7);
  const TensorStats s = tensor_stats(x.data(), static_cast<int64_t>(x.size()));
  // With 100k samples max|x| > 127.5 / 128 (probability of the contrary is ~ 1e-170), so by
  // hand: fl 7 gives 127.5 or more -> rounds to 128 -> saturates; fl 6 gives < 64.5 -> fits.
  ASSERT_GT(s.max_abs, 127.5 / 128.0);
  const FormatChoice m = choose_format(x.data(), static_cast<int64_t>(x.size()), 8, FlMethod::MaxAbs);
  EXPECT_EQ(m.format.fl, 6);
  EXPECT_EQ(m.format.il(), 1);
  EXPECT_EQ(m.clip_ratio, 0.0);
  EXPECT_NEAR(m.mse, brute_mse(x, 8, 6), kTol * brute_mse(x, 8, 6));

  // Scaled to max|x| <= 0.99: fl 7 fits (0.99 * 128 = 126.7 -> 127).
  std::vector<float> y(x);
  for (auto& v : y) v *= 0.99f;
  EXPECT_EQ(choose_format(y.data(), static_cast<int64_t>(y.size()), 8, FlMethod::MaxAbs).format.fl, 7);

  // MSE: the global argmin over every legal FL, found by brute force.
  const FormatChoice c = choose_format(x.data(), static_cast<int64_t>(x.size()), 8, FlMethod::Mse);
  const int want = brute_argmin(x, 8, fx::kMinFl, fx::kMaxFl);
  EXPECT_EQ(c.format.fl, want);
  EXPECT_NEAR(c.mse, brute_mse(x, 8, want), kTol * c.mse);
  EXPECT_LE(c.mse, m.mse);
  // Uniform data has no outliers worth clipping: at most the last 0.4 % of the range clips.
  EXPECT_LE(c.clip_ratio, 0.01);
}

TEST(QFormatTest, OutliersAreClippedByMseAndKlNotByMaxAbs) {
  auto x = gaussian(1000000, 0.0f, 1.0f, 11);
  x[10] = 30.0f;
  x[500000] = -30.0f;
  x[999999] = 29.0f;
  const int64_t n = static_cast<int64_t>(x.size());
  const int lo = maxabs_fl(30.0, 8);
  ASSERT_EQ(lo, 2);  // 30 * 4 = 120 fits, 30 * 8 = 240 does not

  const FormatChoice maxabs = choose_format(x.data(), n, 8, FlMethod::MaxAbs);
  EXPECT_EQ(maxabs.format.fl, lo);
  EXPECT_EQ(maxabs.clip_ratio, 0.0);

  const FormatChoice mse = choose_format(x.data(), n, 8, FlMethod::Mse);
  EXPECT_GT(mse.format.fl, lo);
  EXPECT_EQ(mse.format.fl, brute_argmin(x, 8, lo, lo + 8));
  EXPECT_GT(mse.clip_ratio, 0.0);
  EXPECT_LT(mse.mse, maxabs.mse);
  EXPECT_GT(mse.sqnr_db, maxabs.sqnr_db);

  const FormatChoice kl = choose_format(x.data(), n, 8, FlMethod::Kl);
  EXPECT_GT(kl.format.fl, lo);
  EXPECT_LE(kl.format.fl, lo + 8);
  EXPECT_GT(kl.clip_ratio, 0.0);

  // clip_ratio counts exactly the values that saturate beyond the rounding range.
  for (const FormatChoice* c : {&maxabs, &mse, &kl}) {
    const double hi = (fx::qmax(8) + 0.5) / std::ldexp(1.0, c->format.fl);
    const double lo_v = (fx::qmin(8) - 0.5) / std::ldexp(1.0, c->format.fl);
    int64_t clipped = 0;
    for (float v : x) clipped += (v >= hi || v < lo_v);
    EXPECT_DOUBLE_EQ(c->clip_ratio, static_cast<double>(clipped) / static_cast<double>(n))
        << "fl " << c->format.fl;
  }
}

TEST(QFormatTest, SqnrMseAndClipRatioByHand) {
  // 4 bits, fl 2: q = clamp(floor(4x + 0.5), -8, 7), x' = q / 4.
  //   0.375  -> 1.5 -> 2  -> 0.5    err  0.125     (tie rounds up)
  //  -0.625  -> -2.5 -> -2 -> -0.5  err  0.125     (tie rounds up, towards +inf)
  //   1.125  -> 4.5 -> 5  -> 1.25   err  0.125
  //   0.0625 -> 0.25 -> 0 -> 0      err -0.0625
  //   2.5    -> 10  -> 7  -> 1.75   err -0.75      clipped
  //  -2.0    -> -8  -> -8 -> -2     err  0         at qmin but exact: not clipped
  //  -2.25   -> -9  -> -8 -> -2     err  0.25      clipped
  const std::vector<float> x = {0.375f, -0.625f, 1.125f, 0.0625f, 2.5f, -2.0f, -2.25f};
  const double signal = 0.140625 + 0.390625 + 1.265625 + 0.00390625 + 6.25 + 4.0 + 5.0625;
  const double noise = 3 * 0.015625 + 0.00390625 + 0.5625 + 0.0 + 0.0625;
  const FormatChoice c = evaluate_format(x.data(), 7, {4, 2});
  EXPECT_DOUBLE_EQ(c.mse, noise / 7);
  EXPECT_DOUBLE_EQ(c.sqnr_db, 10 * std::log10(signal / noise));
  EXPECT_DOUBLE_EQ(c.clip_ratio, 2.0 / 7.0);
  EXPECT_EQ(c.stats.n, 7);
  EXPECT_DOUBLE_EQ(c.stats.min, -2.25);
  EXPECT_DOUBLE_EQ(c.stats.max, 2.5);
  EXPECT_DOUBLE_EQ(c.stats.max_abs, 2.5);
  const double mean = (0.375 - 0.625 + 1.125 + 0.0625 + 2.5 - 2.0 - 2.25) / 7;
  EXPECT_DOUBLE_EQ(c.stats.mean, mean);
  double var = 0;
  for (float v : x) var += (v - mean) * (v - mean);
  EXPECT_NEAR(c.stats.std, std::sqrt(var / 7), 1e-15);

  const nlohmann::json j = c.to_json();
  EXPECT_EQ(j.at("bits"), 4);
  EXPECT_EQ(j.at("fl"), 2);
  EXPECT_EQ(j.at("il"), 1);
  for (const char* k : {"min", "max", "mean", "std", "mse", "sqnr_db", "clip_ratio"}) EXPECT_TRUE(j.contains(k)) << k;

  // fake_quantize gives the same values as the hand table.
  std::vector<float> out(7);
  fake_quantize(x.data(), 7, {4, 2}, out.data());
  EXPECT_EQ(out, (std::vector<float>{0.5f, -0.5f, 1.25f, 0.0f, 1.75f, -2.0f, -2.0f}));

  // On the grid: no error, SQNR stored as the large finite 1e9.
  const std::vector<float> g = {0.25f, -1.5f, 1.75f};
  const FormatChoice e = evaluate_format(g.data(), 3, {4, 2});
  EXPECT_EQ(e.mse, 0.0);
  EXPECT_EQ(e.sqnr_db, 1e9);
}

TEST(QFormatTest, BadBitsAndFormats) {
  const std::vector<float> x = {0.5f, -0.25f};
  for (int bits : {1, 17, 0, -3}) {
    EXPECT_THROW(choose_format(x.data(), 2, bits, FlMethod::Mse), BadInput) << bits;
    EXPECT_THROW(choose_format_per_channel(x.data(), 2, 1, bits), BadInput) << bits;
  }
  try {
    choose_format(x.data(), 2, 17);
    FAIL();
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("17"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    EXPECT_EQ(e.exit_code(), 2);
  }
  EXPECT_NO_THROW(choose_format(x.data(), 2, 2));
  EXPECT_NO_THROW(choose_format(x.data(), 2, 16));
  EXPECT_THROW(evaluate_format(x.data(), 2, {8, 25}), BadInput);
  EXPECT_THROW(evaluate_format(x.data(), 2, {8, -9}), BadInput);
  std::vector<float> out(2);
  EXPECT_THROW(fake_quantize(x.data(), 2, {1, 0}, out.data()), BadInput);
  EXPECT_THROW(fl_method_from_name("entropy"), BadInput);
  EXPECT_EQ(fl_method_from_name("kl"), FlMethod::Kl);
  EXPECT_EQ(fl_method_from_name(fl_method_name(FlMethod::MaxAbs)), FlMethod::MaxAbs);
  EXPECT_EQ(fl_method_from_name(fl_method_name(FlMethod::Mse)), FlMethod::Mse);
  const std::vector<float> bad = {1.0f, std::nanf("")};
  EXPECT_THROW(choose_format(bad.data(), 2, 8), BadInput);
}

TEST(QFormatTest, PerChannelFormatsFollowTheRanges) {
  // 3 output channels of 1000 weights: scales 0.01, 1 and 100.
  const int64_t slice = 1000;
  std::vector<float> w;
  const float scales[] = {0.01f, 1.0f, 100.0f};
  for (int c = 0; c < 3; ++c)
    for (float v : gaussian(slice, 0.0f, scales[c], 20 + c)) w.push_back(v);
  const auto per = choose_format_per_channel(w.data(), 3 * slice, slice, 8);
  ASSERT_EQ(per.size(), 3u);
  EXPECT_GT(per[0].format.fl, per[1].format.fl);
  EXPECT_GT(per[1].format.fl, per[2].format.fl);
  for (int c = 0; c < 3; ++c) {
    const FormatChoice one = choose_format(w.data() + c * slice, slice, 8);
    EXPECT_EQ(per[c].format, one.format);
    EXPECT_EQ(per[c].stats.n, slice);
  }
  // Steps 100 / 0.01 = 2^13.3: the FLs are about 13 apart.
  EXPECT_GE(per[0].format.fl - per[2].format.fl, 12);
  // One FL for the whole tensor is far worse on the small channel.
  const FormatChoice whole = choose_format(w.data(), 3 * slice, 8);
  EXPECT_GT(evaluate_format(w.data(), slice, whole.format).mse, 100 * per[0].mse);
  EXPECT_THROW(choose_format_per_channel(w.data(), 3 * slice, 7, 8), BadInput);
  EXPECT_THROW(choose_format_per_channel(w.data(), 3 * slice, 0, 8), BadInput);
}

TEST(QFormatTest, AllZeroTensor) {
  const std::vector<float> z(64, 0.0f);
  for (FlMethod m : {FlMethod::Mse, FlMethod::MaxAbs, FlMethod::Kl}) {
    const FormatChoice c = choose_format(z.data(), 64, 8, m);
    EXPECT_EQ(c.format.fl, fx::kMaxFl) << fl_method_name(m);
    EXPECT_EQ(c.mse, 0.0);
    EXPECT_EQ(c.sqnr_db, 1e9);
    EXPECT_EQ(c.clip_ratio, 0.0);
    EXPECT_EQ(c.stats.max_abs, 0.0);
    EXPECT_EQ(c.stats.std, 0.0);
  }
  // Empty tensor: no error, nothing to clip.
  const FormatChoice e = choose_format(nullptr, 0, 8);
  EXPECT_EQ(e.stats.n, 0);
  EXPECT_EQ(e.mse, 0.0);
}

TEST(QFormatTest, KlIsBetweenMaxAbsAndTheCandidateLimit) {
  // Uniform data has no tail: entropy calibration keeps (almost) the whole range.
  const auto u = uniform(200000, -1.0f, 1.0f, 3);
  const FormatChoice k = choose_format(u.data(), 200000, 8, FlMethod::Kl);
  EXPECT_GE(k.format.fl, 6);
  EXPECT_LE(k.format.fl, 7);
  // A wide histogram at 12+ bits cannot be resolved by 2048 bins: KL is 0 everywhere and the
  // tie goes to the whole range (maxabs).
  const auto g = gaussian(100000, 0.0f, 1.0f, 4);
  const FormatChoice k16 = choose_format(g.data(), 100000, 16, FlMethod::Kl);
  EXPECT_EQ(k16.format.fl, choose_format(g.data(), 100000, 16, FlMethod::MaxAbs).format.fl);
}

}  // namespace
}  // namespace shrink::quant
