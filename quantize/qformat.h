// Dynamic fixed point [IL.FL]: format search per tensor and per width (QUENN's Layer Analysis,
// Ristretto's dynamic fixed point). The integer rules themselves are in
// runtime/include/shrink_fixed_point.h (shared with the runtime); this is the search on top.
//
//   auto c = quant::choose_format(w.data.data(), w.numel(), /*bits=*/8, quant::FlMethod::Mse);
//   c.format.fl;  c.sqnr_db;  c.clip_ratio;  c.stats.max_abs;
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compress/ir/quant_state.h"  // QFormat

namespace shrink::quant {

/// How the FL is chosen: minimum MSE over the candidates; maxabs = the largest FL that does not
/// clip max|x|; kl = the clipping threshold minimising the KL divergence between the histogram
/// of |x| and its quantized version (entropy calibration), then the largest FL that does not
/// clip that threshold.
enum class FlMethod { Mse, MaxAbs, Kl };
FlMethod fl_method_from_name(const std::string& s);  ///< "mse" | "maxabs" | "kl", else BadInput
const char* fl_method_name(FlMethod m);

struct TensorStats {
  int64_t n = 0;
  double min = 0, max = 0, mean = 0, std = 0, max_abs = 0;
};
TensorStats tensor_stats(const float* x, int64_t n);

struct FormatChoice {
  QFormat format;
  TensorStats stats;
  double mse = 0;         ///< mean squared error of dequantize(quantize(x)) against x
  double sqnr_db = 0;     ///< 10 log10(sum x^2 / sum err^2); +inf stored as 1e9 when exact
  double clip_ratio = 0;  ///< fraction of values that saturate
  nlohmann::json to_json() const;  ///< {"bits","il","fl","min","max","mean","std","mse","sqnr_db","clip_ratio"}
};

/// The FL with no clipping for max|x|: the largest fl with max|x| * 2^fl <= 2^(bits-1) - 1
/// (rounding included), clamped to [-8, 24]. An all-zero tensor gives 24, the largest legal FL.
int maxabs_fl(double max_abs, int bits);
/// Candidates are maxabs_fl .. maxabs_fl + 8 (more clipping, finer steps), within [-8, 24].
/// Throws BadInput if bits is outside 2..16.
FormatChoice choose_format(const float* x, int64_t n, int bits, FlMethod method = FlMethod::Mse);
/// Error figures of x in a given format.
FormatChoice evaluate_format(const float* x, int64_t n, QFormat f);
/// One choice per slice of `slice` consecutive values (per output channel of a weight whose
/// dim 0 is the channel: slice = numel / out_channels).
std::vector<FormatChoice> choose_format_per_channel(const float* x, int64_t n, int64_t slice, int bits,
                                                    FlMethod method = FlMethod::Mse);
/// out[i] = dequantize(quantize(x[i], f)) (in-place allowed).
void fake_quantize(const float* x, int64_t n, QFormat f, float* out);

}  // namespace shrink::quant
