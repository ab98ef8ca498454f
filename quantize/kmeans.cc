// K-means (codebook) quantization. Centroid integers follow runtime/include/shrink_fixed_point.h.
#include "quantize/kmeans.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "compress/ir/error.h"
#include "runtime/include/shrink_fixed_point.h"

namespace shrink::quant {

namespace {

// Uniform double in [0, 1) from the top 53 bits: portable, unlike std::uniform_real_distribution.
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// k-means++ seeding on sorted values: the first centre uniformly, every next one with
// probability proportional to the squared distance to the nearest centre chosen so far.
std::vector<double> kmeanspp_init(const std::vector<double>& v, int k, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const size_t n = v.size();
  std::vector<double> centres;
  centres.reserve(static_cast<size_t>(k));
  centres.push_back(v[std::min(n - 1, static_cast<size_t>(uniform01(rng) * static_cast<double>(n)))]);
  std::vector<double> d2(n);
  for (size_t i = 0; i < n; ++i) d2[i] = (v[i] - centres[0]) * (v[i] - centres[0]);
  while (static_cast<int>(centres.size()) < k) {
    double total = 0;
    for (double d : d2) total += d;
    const double r = uniform01(rng) * total;
    double acc = 0;
    size_t pick = n;
    for (size_t i = 0; i < n; ++i) {
      acc += d2[i];
      if (d2[i] > 0 && acc > r) {
        pick = i;
        break;
      }
    }
    if (pick == n)  // rounding at the very end: the last point with a positive distance
      for (size_t i = n; i-- > 0;)
        if (d2[i] > 0) {
          pick = i;
          break;
        }
    const double c = v[pick];
    centres.push_back(c);
    for (size_t i = 0; i < n; ++i) d2[i] = std::min(d2[i], (v[i] - c) * (v[i] - c));
  }
  std::sort(centres.begin(), centres.end());
  return centres;
}

void check_finite(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) throw BadInput("k-means: value ", i, " is ", x[i], ", expected a finite number");
}

}  // namespace

std::vector<double> kmeans_1d(const float* x, int64_t n, int k, const std::string& init, int max_iter,
                              uint64_t seed) {
  if (k < 1) throw BadInput("k-means: k = ", k, ", expected at least 1");
  if (n < 1 || x == nullptr) throw BadInput("k-means: no values to cluster (", n, " values)");
  if (init != "linear" && init != "kmeans++")
    throw BadInput("k-means: unknown init '", init, "', expected linear or kmeans++");
  if (max_iter < 0) throw BadInput("k-means: max_iter = ", max_iter, ", expected >= 0");
  check_finite(x, n);

  std::vector<double> v(x, x + n);
  std::sort(v.begin(), v.end());
  // Few distinct values: they are the centres (the last repeated up to k).
  std::vector<double> distinct;
  for (double d : v) {
    if (distinct.empty() || d != distinct.back()) distinct.push_back(d);
    if (static_cast<int>(distinct.size()) > k) break;
  }
  if (static_cast<int>(distinct.size()) <= k) {
    distinct.resize(static_cast<size_t>(k), distinct.back());
    return distinct;
  }

  std::vector<double> c(static_cast<size_t>(k));
  if (init == "linear") {
    const double lo = v.front(), hi = v.back();
    for (int j = 0; j < k; ++j) c[j] = k == 1 ? 0.5 * (lo + hi) : lo + (hi - lo) * j / (k - 1);
  } else {
    c = kmeanspp_init(v, k, seed);
  }

  // prefix[i] = v[0] + ... + v[i-1]: cluster sums in O(1).
  std::vector<double> prefix(v.size() + 1, 0.0);
  for (size_t i = 0; i < v.size(); ++i) prefix[i + 1] = prefix[i] + v[i];
  // Cluster j of the sorted values is [end[j-1], end[j]): values up to the midpoint between
  // centres j and j+1 (ties to the lower centre).
  std::vector<size_t> end(static_cast<size_t>(k), 0), prev;
  for (int it = 0; it < max_iter; ++it) {
    for (int j = 0; j + 1 < k; ++j) {
      const double mid = 0.5 * (c[j] + c[j + 1]);
      end[j] = static_cast<size_t>(std::upper_bound(v.begin(), v.end(), mid) - v.begin());
    }
    end[k - 1] = v.size();
    if (end == prev) break;  // no assignment changed
    size_t begin = 0;
    for (int j = 0; j < k; ++j) {
      if (end[j] > begin)  // empty clusters keep their centre
        c[j] = (prefix[end[j]] - prefix[begin]) / static_cast<double>(end[j] - begin);
      begin = std::max(begin, end[j]);
    }
    prev = end;
  }
  std::sort(c.begin(), c.end());
  return c;
}

Codebook kmeans_quantize(const float* w, int64_t n, const KMeansOptions& o) {
  if (o.index_bits < 1 || o.index_bits > 8)
    throw BadInput("k-means index bits ", o.index_bits, " is outside 1..8");
  if (!fx::valid_bits(o.centroid_bits))
    throw BadInput("k-means centroid bits ", o.centroid_bits, " is outside ", fx::kMinBits, "..", fx::kMaxBits);
  if (o.init != "linear" && o.init != "kmeans++")
    throw BadInput("k-means init '", o.init, "' is unknown, expected linear or kmeans++");
  if (n < 1 || w == nullptr) throw BadInput("k-means: no weights to quantize (", n, " values)");
  check_finite(w, n);

  const int K = 1 << o.index_bits;
  std::vector<float> nonzero;
  nonzero.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    if (w[i] != 0.0f) nonzero.push_back(w[i]);

  Codebook cb;
  cb.index_bits = o.index_bits;
  cb.zero_reserved = static_cast<int64_t>(nonzero.size()) < n;
  const int first = cb.zero_reserved ? 1 : 0;  // index of the first fitted centroid
  const int fitted = K - first;

  std::vector<double> centres(static_cast<size_t>(fitted), 0.0);
  if (!nonzero.empty())
    centres = kmeans_1d(nonzero.data(), static_cast<int64_t>(nonzero.size()), fitted, o.init, o.max_iter, o.seed);
  std::vector<float> cf(centres.begin(), centres.end());
  cb.centroid_format = choose_format(cf.data(), fitted, o.centroid_bits, FlMethod::Mse).format;

  cb.centroids_q.assign(static_cast<size_t>(K), 0);
  for (int j = 0; j < fitted; ++j)
    cb.centroids_q[first + j] =
        static_cast<int32_t>(fx::quantize(centres[j], cb.centroid_format.bits, cb.centroid_format.fl));

  // Quantized fitted centroids are sorted (quantize is monotonic): nearest by binary search,
  // ties to the lower index.
  std::vector<double> cv(static_cast<size_t>(fitted));
  for (int j = 0; j < fitted; ++j) cv[j] = fx::dequantize(cb.centroids_q[first + j], cb.centroid_format.fl);
  cb.indices.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double x = w[i];
    if (cb.zero_reserved && x == 0.0) {
      cb.indices[i] = 0;
      continue;
    }
    const size_t hi = static_cast<size_t>(std::lower_bound(cv.begin(), cv.end(), x) - cv.begin());
    size_t best;
    if (hi == 0) {
      best = 0;
    } else if (hi == cv.size()) {
      best = cv.size() - 1;
    } else {
      // cv[hi - 1] < x <= cv[hi]; the lower one wins a tie, and the first of equal values.
      best = (x - cv[hi - 1] <= cv[hi] - x) ? hi - 1 : hi;
    }
    if (best > 0 && cv[best - 1] == cv[best])  // duplicates: the lowest index of that value
      best = static_cast<size_t>(std::lower_bound(cv.begin(), cv.end(), cv[best]) - cv.begin());
    cb.indices[i] = static_cast<int32_t>(first + static_cast<int>(best));
  }
  return cb;
}

}  // namespace shrink::quant
