// Quantizing a whole model: BatchNorm folded, weights snapped to fixed point (one FL per layer or
// per output channel) or to a k-means codebook, activation formats calibrated on data, all
// recorded in the IR's compression state (docs/quantization.md, "Quantization state").
//
//   quant::QuantizeOptions o;  o.weight_bits = o.act_bits = 8;
//   o.layers = quant::load_layer_config("q.yaml");                 // optional per-layer widths
//   ir::Graph q = quant::quantize_model(g, ir::load_dataset("fashion-mnist", ir::Split::Val, 1000), o);
//   quant::ModelQuant mq = quant::read_model_quant(q);            // formats per node
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compress/ir/dataset.h"
#include "compress/ir/graph.h"
#include "compress/ir/quant_state.h"
#include "quantize/kmeans.h"
#include "quantize/qformat.h"

namespace shrink::quant {

/// Per-layer widths; -1 = the model-wide option.
struct LayerOverride {
  int weight_bits = -1;
  int act_bits = -1;
  int index_bits = -1;
};

/// Fields mirror the CLI flags and the recipe stage's keys.
struct QuantizeOptions {
  std::string scheme = "fixed";   ///< "fixed" | "kmeans" (weights; activations are fixed point)
  int weight_bits = 8;            ///< fixed: weight width 2..16
  int act_bits = 8;               ///< activation (and network input) width 2..16
  bool per_channel = false;       ///< fixed: one weight FL per output channel
  std::string method = "mse";     ///< FL choice: mse | maxabs | kl
  int64_t calibration = 1000;     ///< calibration images (the first N of the data given)
  int index_bits = 4;             ///< kmeans: 1..8
  int centroid_bits = 8;          ///< kmeans: centroid width 2..16
  std::string kmeans_init = "linear";  ///< linear | kmeans++
  uint64_t seed = 1;              ///< kmeans++
  std::map<std::string, LayerOverride> layers;  ///< by node name
};

/// Ops whose output takes their input's format (their values are a subset of the input's):
/// ReLU, ReLU6, MaxPool, Flatten, Reshape, Identity. A format group is a root node (or the
/// network input) with the chain of such ops after it.
bool passes_format_through(ir::Op op);

/// Range checks; fail(key, message) is called for the first bad field (key as in the recipe,
/// e.g. "weight_bits") and must throw. The default throws BadInput "key: message".
void check_options(const QuantizeOptions& o,
                   const std::function<void(const std::string& key, const std::string& msg)>& fail = {});

/// Reads a per-layer configuration:
///   layers: {conv1: {weight_bits: 4, act_bits: 8}, fc1: {index_bits: 5}}
/// Unknown keys or non-integer values are BadInput naming the file and key.
std::map<std::string, LayerOverride> load_layer_config(const std::string& path);

/// The fp32 model quantized: BatchNorm folded, weights snapped, formats in the state.
/// `calibration` holds the calibration images (the first o.calibration are used). Layer names of
/// o.layers must exist in the model (BadInput naming the first unknown layer; a config none of
/// whose layers exist is reported as a config for another model).
ir::Graph quantize_model(const ir::Graph& fp32, const ir::Dataset& calibration, const QuantizeOptions& o);

// NodeQuant, ModelQuant, is_quantized, read_model_quant, codebook_from_json: compress/ir/quant_state.h.

/// Snaps every quantized weight of the graph onto its grid again (after training moved it):
/// fixed: w = dequantize(quantize(w)) with the recorded formats; kmeans: the centroids (tensor
/// "centroids", float, if present; else the recorded ones) are re-quantized to the centroid
/// format and w = centroids_q[index] * 2^-FL; the "centroids" tensor is removed.
void snap_weights(ir::Graph& g);

}  // namespace shrink::quant
