// Dynamic fixed point format search. Integer rules: runtime/include/shrink_fixed_point.h.
#include "quantize/qformat.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "compress/ir/error.h"
#include "runtime/include/shrink_fixed_point.h"

namespace shrink::quant {

namespace {

constexpr double kExactSqnrDb = 1e9;  // stored instead of +inf when the error is exactly 0
constexpr int kKlBins = 2048;         // histogram of |x| over [0, max|x|]
constexpr int kKlFirstThreshold = 128;  // smallest clipping threshold, in bins

void check_bits(int bits) {
  if (!fx::valid_bits(bits))
    throw BadInput("fixed-point bits ", bits, " is outside ", fx::kMinBits, "..", fx::kMaxBits);
}

void check_format(QFormat f) {
  check_bits(f.bits);
  if (!fx::valid_fl(f.fl))
    throw BadInput("fixed-point FL ", f.fl, " is outside ", fx::kMinFl, "..", fx::kMaxFl);
}

void check_data(const float* x, int64_t n) {
  if (n < 0) throw BadInput("tensor size ", n, " is negative");
  if (n > 0 && x == nullptr) throw BadInput("tensor of ", n, " values has no data");
}

// Error figures of x in format f, given its statistics. The error is summed in the integer
// domain, (q - x * 2^fl)^2, and scaled by 2^-2fl once: a power of two, so the sum is the same
// as that of (dequantize(q) - x)^2.
FormatChoice evaluate(const float* x, int64_t n, QFormat f, const TensorStats& stats) {
  const double scale = std::ldexp(1.0, f.fl);
  const int64_t qmax = fx::qmax(f.bits), qmin = fx::qmin(f.bits);
  // floor(s + 0.5) > qmax  <=>  s >= qmax + 0.5;  floor(s + 0.5) < qmin  <=>  s < qmin - 0.5.
  const double hi = static_cast<double>(qmax) + 0.5, lo = static_cast<double>(qmin) - 0.5;
  double signal = 0, noise = 0;
  int64_t clipped = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(x[i]);
    const int64_t q = fx::quantize_scaled(x[i], f.bits, scale);
    const double s = v * scale;
    const double e = static_cast<double>(q) - s;
    signal += v * v;
    noise += e * e;
    clipped += (s >= hi) | (s < lo);  // rounds outside [qmin, qmax]: saturated, really clipped
  }
  noise = std::ldexp(noise, -2 * f.fl);
  FormatChoice c;
  c.format = f;
  c.stats = stats;
  c.mse = n > 0 ? noise / static_cast<double>(n) : 0.0;
  c.sqnr_db = noise > 0 ? 10.0 * std::log10(signal / noise) : kExactSqnrDb;
  c.clip_ratio = n > 0 ? static_cast<double>(clipped) / static_cast<double>(n) : 0.0;
  return c;
}

// TensorRT-style entropy calibration on the histogram of |x|: the threshold T (a bin edge,
// at least kKlFirstThreshold bins) minimising KL(P || Q). P = the first i bins with the
// outliers (bins i..) added to bin i-1; Q = the first i bins WITHOUT the outliers, merged into
// `levels` groups and expanded back (each group's mass spread evenly over the bins where P is
// nonzero). Leaving the outliers out of Q is what makes clipping cost something: with
// P = Q at levels >= i every threshold would score 0. Both are normalised to 1; a bin with
// P > 0 and Q = 0 gets Q = kKlEps / i. Ties go to the larger T (less clipping).
double kl_threshold(const float* x, int64_t n, double max_abs, int bits) {
  constexpr double kKlEps = 1e-4;
  std::vector<double> hist(kKlBins, 0.0);
  const double width = max_abs / kKlBins;
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::fabs(static_cast<double>(x[i]));
    const int b = static_cast<int>(std::min<double>(a / width, kKlBins - 1));
    hist[static_cast<size_t>(b)] += 1.0;
  }
  const int levels = 1 << (bits - 1);
  std::vector<double> suffix(kKlBins + 1, 0.0);  // suffix[i] = hist[i] + ... + hist[2047]
  for (int i = kKlBins - 1; i >= 0; --i) suffix[i] = suffix[i + 1] + hist[i];
  const double total = suffix[0];

  std::vector<double> q(kKlBins);
  double best_kl = std::numeric_limits<double>::infinity();
  int best_i = kKlBins;
  for (int i = kKlFirstThreshold; i <= kKlBins; ++i) {
    const auto p = [&](int b) { return b == i - 1 ? hist[b] + suffix[i] : hist[b]; };
    // Group g covers bins [g * i / groups, (g + 1) * i / groups); with levels >= i every bin
    // is its own group.
    const int groups = std::min(levels, i);
    const double q_total = total - suffix[i];
    for (int g = 0; g < groups; ++g) {
      const int b0 = static_cast<int>(static_cast<int64_t>(g) * i / groups);
      const int b1 = static_cast<int>(static_cast<int64_t>(g + 1) * i / groups);
      double mass = 0;
      int nonzero = 0;
      for (int b = b0; b < b1; ++b) {
        mass += hist[b];
        nonzero += p(b) > 0;
      }
      for (int b = b0; b < b1; ++b) q[b] = p(b) > 0 && q_total > 0 ? mass / nonzero / q_total : 0.0;
    }
    double kl = 0;
    for (int b = 0; b < i; ++b) {
      const double pb = p(b) / total;
      if (pb > 0) kl += pb * std::log(pb / (q[b] > 0 ? q[b] : kKlEps / i));
    }
    if (kl <= best_kl + 1e-12) {
      best_kl = std::min(kl, best_kl);
      best_i = i;
    }
  }
  return best_i * width;
}

}  // namespace

FlMethod fl_method_from_name(const std::string& s) {
  if (s == "mse") return FlMethod::Mse;
  if (s == "maxabs") return FlMethod::MaxAbs;
  if (s == "kl") return FlMethod::Kl;
  throw BadInput("unknown FL method '", s, "', expected mse, maxabs or kl");
}

const char* fl_method_name(FlMethod m) {
  switch (m) {
    case FlMethod::Mse: return "mse";
    case FlMethod::MaxAbs: return "maxabs";
    case FlMethod::Kl: return "kl";
  }
  return "?";
}

TensorStats tensor_stats(const float* x, int64_t n) {
  check_data(x, n);
  TensorStats s;
  s.n = n;
  if (n == 0) return s;
  double sum = 0, mn = x[0], mx = x[0];
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    if (!std::isfinite(v)) throw BadInput("tensor value ", i, " is ", v, ", expected a finite number");
    sum += v;
    mn = std::min(mn, v);
    mx = std::max(mx, v);
  }
  const double mean = sum / static_cast<double>(n);
  double var = 0;  // two passes: no cancellation
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - mean;
    var += d * d;
  }
  s.min = mn;
  s.max = mx;
  s.mean = mean;
  s.std = std::sqrt(var / static_cast<double>(n));
  s.max_abs = std::max(std::fabs(mn), std::fabs(mx));
  return s;
}

nlohmann::json FormatChoice::to_json() const {
  return {{"bits", format.bits},  {"il", format.il()},   {"fl", format.fl},   {"min", stats.min},
          {"max", stats.max},     {"mean", stats.mean},  {"std", stats.std},  {"mse", mse},
          {"sqnr_db", sqnr_db},   {"clip_ratio", clip_ratio}};
}

int maxabs_fl(double max_abs, int bits) {
  check_bits(bits);
  const double limit = static_cast<double>(fx::qmax(bits)) + 0.5;  // floor(v + 0.5) <= qmax
  for (int fl = fx::kMaxFl; fl > fx::kMinFl; --fl)
    if (std::ldexp(std::fabs(max_abs), fl) < limit) return fl;
  return fx::kMinFl;
}

FormatChoice evaluate_format(const float* x, int64_t n, QFormat f) {
  check_format(f);
  return evaluate(x, n, f, tensor_stats(x, n));
}

FormatChoice choose_format(const float* x, int64_t n, int bits, FlMethod method) {
  check_bits(bits);
  const TensorStats stats = tensor_stats(x, n);
  const int lo = maxabs_fl(stats.max_abs, bits);
  const int hi = std::min(lo + 8, fx::kMaxFl);
  switch (method) {
    case FlMethod::MaxAbs:
      return evaluate(x, n, {bits, lo}, stats);
    case FlMethod::Kl: {
      int fl = lo;
      if (stats.max_abs > 0) fl = std::clamp(maxabs_fl(kl_threshold(x, n, stats.max_abs, bits), bits), lo, hi);
      return evaluate(x, n, {bits, fl}, stats);
    }
    case FlMethod::Mse: {
      FormatChoice best = evaluate(x, n, {bits, lo}, stats);
      for (int fl = lo + 1; fl <= hi; ++fl) {
        FormatChoice c = evaluate(x, n, {bits, fl}, stats);
        if (c.mse < best.mse) best = c;  // ties keep the smaller FL (less clipping)
      }
      return best;
    }
  }
  throw InternalError("choose_format: unknown FL method");
}

std::vector<FormatChoice> choose_format_per_channel(const float* x, int64_t n, int64_t slice, int bits,
                                                    FlMethod method) {
  check_bits(bits);
  check_data(x, n);
  if (slice <= 0 || n % slice != 0)
    throw BadInput("per-channel slice of ", slice, " values does not divide the tensor's ", n, " values");
  std::vector<FormatChoice> out;
  out.reserve(static_cast<size_t>(n / slice));
  for (int64_t off = 0; off < n; off += slice) out.push_back(choose_format(x + off, slice, bits, method));
  return out;
}

void fake_quantize(const float* x, int64_t n, QFormat f, float* out) {
  check_format(f);
  check_data(x, n);
  const double scale = std::ldexp(1.0, f.fl), inv = std::ldexp(1.0, -f.fl);  // dequantize: q * 2^-fl
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<double>(fx::quantize_scaled(x[i], f.bits, scale)) * inv);
}

}  // namespace shrink::quant
