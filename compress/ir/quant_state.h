// The quantization state a graph carries (docs/quantization.md, "Quantization state in the model
// file"): formats, per-node weight formats and codebooks, parsed and checked. LibTorch-free, so
// the exporters read it too; quantize/ writes it (quantize_model.h re-exports these names).
//
//   if (quant::is_quantized(g)) {
//     quant::ModelQuant mq = quant::read_model_quant(g);       // BadInput on malformed state
//     quant::QFormat in = mq.input;  const quant::NodeQuant& c = mq.nodes.at("conv1");
//     int fl = c.weight_fl_of(0);  if (c.codebook) c.codebook->indices;  // k-means layer
//   }
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compress/ir/graph.h"

namespace shrink::quant {

/// x = q * 2^-fl with q a signed `bits`-bit integer; il = bits - 1 - fl (sign not counted).
struct QFormat {
  int bits = 8;
  int fl = 0;
  int il() const { return bits - 1 - fl; }
  bool operator==(const QFormat& o) const { return bits == o.bits && fl == o.fl; }
};

/// {"bits": B, "fl": FL}
nlohmann::json format_json(QFormat f);
/// "8-bit [2.5]": width and [IL.FL] (IL = bits - 1 - FL, the sign bit not counted).
std::string format_text(QFormat f);
/// Parses {"bits", "fl"}; BadInput naming `where` unless bits is 2..16 and fl -8..24.
QFormat format_from_json(const nlohmann::json& j, const std::string& where);

/// A k-means codebook of one layer (quantize/kmeans.h builds it).
struct Codebook {
  int index_bits = 0;
  bool zero_reserved = false;        ///< index 0 is the exact value 0 (the tensor had zeros)
  QFormat centroid_format;           ///< one FL for all centroids of the layer
  std::vector<int32_t> centroids_q;  ///< 2^b integers (unused entries repeat the last one)
  std::vector<int32_t> indices;      ///< one per weight, in 0 .. 2^b - 1
  float centroid(int k) const;       ///< dequantized centroid k
  float value(int64_t i) const { return centroid(indices[static_cast<size_t>(i)]); }
  nlohmann::json to_json() const;    ///< settings and centroids (not the indices)
};

/// One node's quantization state, read from node.state["quant"].
struct NodeQuant {
  std::string scheme;           ///< "fixed" | "kmeans"
  QFormat output;               ///< format of the node's output tensor
  bool has_weight = false;      ///< Conv2d / Linear
  int weight_bits = 0;          ///< fixed: weight width; kmeans: centroid width
  std::vector<int> weight_fl;   ///< one, or one per output channel
  std::optional<Codebook> codebook;  ///< kmeans (indices from the "weight_index" tensor)
  int weight_fl_of(int64_t channel) const {
    return weight_fl.size() == 1 ? weight_fl[0] : weight_fl[static_cast<size_t>(channel)];
  }
};

struct ModelQuant {
  QFormat input;
  std::map<std::string, NodeQuant> nodes;  ///< the integer part (not the final Softmax)
  /// Format of a node's output or of Graph::kInput.
  QFormat format_of(const std::string& name) const;
};

/// A node's weight format for people: "8-bit [1.6]", "8-bit, FL per channel 5..7",
/// "k-means 4-bit, centroids 8-bit [0.7], 0 reserved"; "" for a node without weights.
std::string weight_format_text(const NodeQuant& n);

/// True if the graph carries quantization state (graph.state["quant"]).
bool is_quantized(const ir::Graph& g);
/// Parses and checks the state (BadInput naming the node and field on anything malformed).
ModelQuant read_model_quant(const ir::Graph& g);
/// Codebook settings and centroids from Codebook::to_json() (indices left empty).
Codebook codebook_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace shrink::quant
