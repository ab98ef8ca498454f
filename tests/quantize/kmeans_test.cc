// Tests of 1-D k-means and the k-means (codebook) quantizer (quantize/kmeans.h).
#include "quantize/kmeans.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "compress/ir/error.h"
#include "runtime/include/shrink_fixed_point.h"

namespace shrink::quant {
namespace {

constexpr double kCentreTol = 0.02;  // mixture centres, sd 0.05 and 2000 points per component

std::vector<float> gaussian(int64_t n, float mean, float sd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(mean, sd);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<float> mixture() {
  std::vector<float> x;
  const float centres[] = {-3.0f, -1.0f, 0.5f, 2.0f};
  for (int c = 0; c < 4; ++c)
    for (float v : gaussian(2000, centres[c], 0.05f, 100 + c)) x.push_back(v);
  std::shuffle(x.begin(), x.end(), std::mt19937_64(5));
  return x;
}

double reconstruction_mse(const std::vector<float>& w, const Codebook& cb) {
  double s = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const double e = static_cast<double>(cb.value(static_cast<int64_t>(i))) - w[i];
    s += e * e;
  }
  return s / static_cast<double>(w.size());
}

TEST(KMeansTest, FindsTheCentresOfAMixture) {
  const auto x = mixture();
  const double want[] = {-3.0, -1.0, 0.5, 2.0};
  for (const char* init : {"linear", "kmeans++"}) {
    for (uint64_t seed : {1u, 2u, 3u}) {
      const auto c = kmeans_1d(x.data(), static_cast<int64_t>(x.size()), 4, init, 100, seed);
      ASSERT_EQ(c.size(), 4u);
      EXPECT_TRUE(std::is_sorted(c.begin(), c.end()));
      for (int j = 0; j < 4; ++j) EXPECT_NEAR(c[j], want[j], kCentreTol) << init << " seed " << seed << " centre " << j;
    }
  }
}

TEST(KMeansTest, ResultIsALloydFixedPoint) {
  // Every centre is the mean of the values nearest to it (checked by brute force).
  const auto x = gaussian(5000, 0.0f, 1.0f, 9);
  for (const char* init : {"linear", "kmeans++"}) {
    const auto c = kmeans_1d(x.data(), 5000, 8, init, 1000, 4);
    std::vector<double> sum(8, 0.0);
    std::vector<int> count(8, 0);
    for (float v : x) {
      int best = 0;
      for (int j = 1; j < 8; ++j)
        if (std::fabs(v - c[j]) < std::fabs(v - c[best])) best = j;
      sum[best] += v;
      ++count[best];
    }
    for (int j = 0; j < 8; ++j) {
      ASSERT_GT(count[j], 0) << init;
      EXPECT_NEAR(c[j], sum[j] / count[j], 1e-9) << init << " centre " << j;
    }
  }
}

TEST(KMeansTest, DeterministicForASeed) {
  const auto x = gaussian(3000, 0.0f, 1.0f, 12);
  const auto a = kmeans_1d(x.data(), 3000, 16, "kmeans++", 3, 42);
  const auto b = kmeans_1d(x.data(), 3000, 16, "kmeans++", 3, 42);
  EXPECT_EQ(a, b);
  KMeansOptions o;
  o.index_bits = 4;
  o.init = "kmeans++";
  o.seed = 42;
  const Codebook p = kmeans_quantize(x.data(), 3000, o);
  const Codebook q = kmeans_quantize(x.data(), 3000, o);
  EXPECT_EQ(p.centroids_q, q.centroids_q);
  EXPECT_EQ(p.indices, q.indices);
  // A different seed starts elsewhere (3 iterations do not converge to the same point).
  const auto c = kmeans_1d(x.data(), 3000, 16, "kmeans++", 3, 43);
  EXPECT_NE(a, c);
}

TEST(KMeansTest, BadArguments) {
  const std::vector<float> w = {0.5f, -0.25f, 0.0f};
  for (int b : {0, 9, -1}) {
    KMeansOptions o;
    o.index_bits = b;
    EXPECT_THROW(kmeans_quantize(w.data(), 3, o), BadInput) << b;
  }
  try {
    KMeansOptions o;
    o.index_bits = 9;
    kmeans_quantize(w.data(), 3, o);
    FAIL();
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("9"), std::string::npos) << e.what();
    EXPECT_EQ(e.exit_code(), 2);
  }
  for (int cb : {1, 17}) {
    KMeansOptions o;
    o.centroid_bits = cb;
    EXPECT_THROW(kmeans_quantize(w.data(), 3, o), BadInput) << cb;
  }
  KMeansOptions o;
  o.init = "random";
  EXPECT_THROW(kmeans_quantize(w.data(), 3, o), BadInput);
  EXPECT_THROW(kmeans_1d(w.data(), 3, 0, "linear", 10, 1), BadInput);
  EXPECT_THROW(kmeans_quantize(w.data(), 0, KMeansOptions{}), BadInput);
  KMeansOptions ok;
  ok.index_bits = 1;
  EXPECT_NO_THROW(kmeans_quantize(w.data(), 3, ok));
  ok.index_bits = 8;
  EXPECT_NO_THROW(kmeans_quantize(w.data(), 3, ok));
}

TEST(KMeansTest, PrunedZerosStayZero) {
  auto w = gaussian(4000, 0.0f, 0.1f, 8);
  for (size_t i = 0; i < w.size(); i += 3) w[i] = 0.0f;  // a third pruned
  for (const char* init : {"linear", "kmeans++"}) {
    KMeansOptions o;
    o.index_bits = 3;
    o.init = init;
    const Codebook cb = kmeans_quantize(w.data(), 4000, o);
    ASSERT_TRUE(cb.zero_reserved);
    ASSERT_EQ(cb.centroids_q.size(), 8u);
    EXPECT_EQ(cb.centroids_q[0], 0);
    ASSERT_EQ(cb.indices.size(), w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      if (w[i] == 0.0f) {
        EXPECT_EQ(cb.indices[i], 0) << i;
        EXPECT_EQ(cb.value(static_cast<int64_t>(i)), 0.0f);
      } else {
        EXPECT_NE(cb.indices[i], 0) << i;
      }
    }
  }
  // No zeros: nothing reserved, all 2^b centroids fitted.
  const auto g = gaussian(1000, 0.0f, 0.1f, 9);
  KMeansOptions o;
  o.index_bits = 2;
  const Codebook cb = kmeans_quantize(g.data(), 1000, o);
  EXPECT_FALSE(cb.zero_reserved);
  std::vector<int32_t> used(cb.indices);
  std::sort(used.begin(), used.end());
  used.erase(std::unique(used.begin(), used.end()), used.end());
  EXPECT_EQ(used.size(), 4u);
}

TEST(KMeansTest, IndicesPointToTheNearestQuantizedCentroid) {
  auto w = gaussian(3000, 0.0f, 0.5f, 10);
  for (size_t i = 0; i < w.size(); i += 5) w[i] = 0.0f;
  KMeansOptions o;
  o.index_bits = 4;
  o.centroid_bits = 4;  // coarse centroids: some collide, nearest must still hold
  const Codebook cb = kmeans_quantize(w.data(), 3000, o);
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] == 0.0f) continue;
    int best = 1;
    for (int k = 2; k < 16; ++k)
      if (std::fabs(static_cast<double>(w[i]) - cb.centroid(k)) < std::fabs(static_cast<double>(w[i]) - cb.centroid(best)))
        best = k;
    EXPECT_EQ(cb.indices[i], best) << "weight " << i << " = " << w[i];
  }
}

TEST(KMeansTest, CentroidBitsAreRespected) {
  const auto w = gaussian(2000, 0.0f, 3.0f, 13);
  for (int bits : {8, 4, 12}) {
    KMeansOptions o;
    o.index_bits = 5;
    o.centroid_bits = bits;
    const Codebook cb = kmeans_quantize(w.data(), 2000, o);
    EXPECT_EQ(cb.centroid_format.bits, bits);
    EXPECT_TRUE(fx::valid_fl(cb.centroid_format.fl));
    ASSERT_EQ(cb.centroids_q.size(), 32u);
    for (int k = 0; k < 32; ++k) {
      EXPECT_GE(cb.centroids_q[k], fx::qmin(bits));
      EXPECT_LE(cb.centroids_q[k], fx::qmax(bits));
      EXPECT_EQ(cb.centroid(k), static_cast<float>(std::ldexp(static_cast<double>(cb.centroids_q[k]), -cb.centroid_format.fl)));
    }
    const nlohmann::json j = cb.to_json();
    EXPECT_EQ(j.at("index_bits"), 5);
    EXPECT_EQ(j.at("zero_reserved"), false);
    EXPECT_EQ(j.at("centroid_bits"), bits);
    EXPECT_EQ(j.at("centroid_fl"), cb.centroid_format.fl);
    EXPECT_EQ(j.at("centroids_q").get<std::vector<int32_t>>(), cb.centroids_q);
  }
}

TEST(KMeansTest, FewDistinctValuesAreReproducedExactly) {
  // Values on the 8-bit grid (multiples of 2^-3, |x| <= 1.5 -> FL up to 6 fits) and fewer
  // distinct values than centroids.
  const std::vector<float> vals = {-0.75f, 0.25f, 0.5f, 1.5f};
  std::vector<float> w;
  for (int i = 0; i < 400; ++i) w.push_back(vals[(i * 7) % 4]);
  KMeansOptions o;
  o.index_bits = 3;
  Codebook cb = kmeans_quantize(w.data(), 400, o);
  EXPECT_FALSE(cb.zero_reserved);
  for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(cb.value(static_cast<int64_t>(i)), w[i]) << i;
  // Unused entries repeat the last centroid.
  EXPECT_EQ(cb.centroids_q[7], cb.centroids_q[3]);

  // With zeros: index 0 is 0, two nonzero values fill three fitted centroids.
  std::vector<float> z;
  for (int i = 0; i < 300; ++i) z.push_back(i % 3 == 0 ? 0.0f : (i % 3 == 1 ? -0.5f : 0.125f));
  o.index_bits = 2;
  o.init = "kmeans++";
  cb = kmeans_quantize(z.data(), 300, o);
  EXPECT_TRUE(cb.zero_reserved);
  for (size_t i = 0; i < z.size(); ++i) EXPECT_EQ(cb.value(static_cast<int64_t>(i)), z[i]) << i;

  // All zero: every index 0, every centroid 0.
  const std::vector<float> zero(10, 0.0f);
  cb = kmeans_quantize(zero.data(), 10, o);
  EXPECT_TRUE(cb.zero_reserved);
  for (int32_t q : cb.centroids_q) EXPECT_EQ(q, 0);
  for (int32_t i : cb.indices) EXPECT_EQ(i, 0);
}

TEST(KMeansTest, ErrorDecreasesWithIndexBits) {
  // 16-bit centroids so that the index bits, not the centroid grid, limit the error.
  const auto w = gaussian(20000, 0.0f, 0.2f, 14);
  double prev = INFINITY;
  for (int b = 1; b <= 8; ++b) {
    KMeansOptions o;
    o.index_bits = b;
    o.centroid_bits = 16;
    const double mse = reconstruction_mse(w, kmeans_quantize(w.data(), 20000, o));
    EXPECT_LT(mse, prev) << "index bits " << b;
    prev = mse;
  }
  // Lloyd-Max for a Gaussian at 1 bit: centroids +-sd*sqrt(2/pi), MSE = sd^2 (1 - 2/pi).
  KMeansOptions o;
  o.index_bits = 1;
  o.centroid_bits = 16;
  EXPECT_NEAR(reconstruction_mse(w, kmeans_quantize(w.data(), 20000, o)), 0.04 * (1 - 2 / M_PI), 0.04 * 0.02);
}

}  // namespace
}  // namespace shrink::quant
