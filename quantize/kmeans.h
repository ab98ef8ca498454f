// K-means (codebook) quantization of weights (Deep Compression; QUENN): 2^b centroids per
// layer, stored in fixed point with one FL per layer. Exact zeros (pruned weights) stay zero
// and are not members of any cluster: when a tensor has zeros, index 0 is reserved for the
// value 0 and 2^b - 1 centroids are fitted to the nonzero weights.
//
//   quant::KMeansOptions o;  o.index_bits = 5;
//   quant::Codebook cb = quant::kmeans_quantize(w.data.data(), w.numel(), o);
//   cb.value(i)  // the dequantized weight i: centroids[indices[i]]
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compress/ir/quant_state.h"  // Codebook
#include "quantize/qformat.h"

namespace shrink::quant {

struct KMeansOptions {
  int index_bits = 4;          ///< 1..8
  std::string init = "linear"; ///< "linear" (evenly spaced over [min, max], Deep Compression) | "kmeans++"
  int max_iter = 100;
  uint64_t seed = 1;           ///< kmeans++ only
  int centroid_bits = 8;       ///< fixed-point width of the centroids (2..16)
};

/// Plain 1-D k-means (Lloyd) on the values; returns k sorted centres. Deterministic for a seed.
/// Throws BadInput for k < 1.
std::vector<double> kmeans_1d(const float* x, int64_t n, int k, const std::string& init, int max_iter,
                              uint64_t seed);
/// Throws BadInput for index_bits outside 1..8, centroid_bits outside 2..16, an unknown init.
Codebook kmeans_quantize(const float* w, int64_t n, const KMeansOptions& o);

}  // namespace shrink::quant
