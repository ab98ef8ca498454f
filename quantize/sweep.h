// Quantization sensitivity sweeps (QUENN's Layer Analysis) and Network Space Exploration
// (mixed precision under an accuracy budget). Every measurement is on the `val` split.
//
//   quant::SweepOptions o;  o.fixed_bits = {2, 4, 8};  o.limit = 1000;
//   ir::Dataset val = ir::load_dataset("fashion-mnist", ir::Split::Val, o.limit);
//   quant::SweepResult s = quant::sweep_layers(fp32, val, o);            // one record per point
//   quant::ExploreResult e = quant::explore(fp32, val, s, {.max_drop = 0.01});
//   quant::write_sweep_report("out/", s, &e);   // report.json, report.csv, report.html
//
// A point quantizes ONE tensor (a conv/linear layer's weights, or its output activation) with
// one method and width, keeps everything else fp32 and measures accuracy, loss and SQNR.
// With the activation cache (default) the fp32 values entering the layer are computed once
// and each point reruns only the suffix of the network from that layer on.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compress/ir/dataset.h"
#include "compress/ir/graph.h"

namespace shrink::quant {

struct SweepRecord {
  std::string layer;
  std::string target;          ///< "weights" | "activations"
  std::string method;          ///< "fixed" | "kmeans"
  int bits = 0;                ///< fixed: width; kmeans: index bits
  std::optional<int> il, fl;   ///< fixed: the chosen format; kmeans weights: the centroids'; kmeans activations: none
  double accuracy = 0, loss = 0;
  double sqnr_db = 0;          ///< of the quantized tensor against fp32 (activations: over the evaluated images)
  double seconds = 0;          ///< wall time of this point
  std::string key() const;     ///< "layer/target/method/bits"
  nlohmann::json to_json() const;
  static SweepRecord from_json(const nlohmann::json& j);  ///< BadInput on a malformed record
};

struct SweepOptions {
  std::vector<std::string> targets = {"weights", "activations"};
  std::vector<std::string> methods = {"fixed", "kmeans"};
  std::vector<int> fixed_bits = {2, 4, 6, 8, 12, 16};  ///< widths 2..16
  std::vector<int> kmeans_bits = {1, 2, 3, 4, 5, 6, 8};  ///< index bits 1..8
  std::vector<std::string> layers;  ///< conv/linear nodes to sweep; empty = all
  int64_t calibration = 1000;       ///< activation formats / centroids: the first N images of the data
  std::string fl_method = "mse";    ///< mse | maxabs | kl
  int centroid_bits = 8;            ///< kmeans: centroid width 2..16
  std::string kmeans_init = "linear";
  uint64_t seed = 1;
  bool cache = true;                ///< activation cache (rerun only the suffix)
  int workers = 1;                  ///< points evaluated in parallel (each worker one LibTorch thread)
  int64_t batch = 500;              ///< evaluation batch size
  /// Records already measured (resume): points with the same key are not measured again.
  std::vector<SweepRecord> done;
  /// Called after each new point (from the calling thread, in completion order): the sweep
  /// command appends it to DIR/points.jsonl so an interrupted sweep can resume.
  std::function<void(const SweepRecord&)> on_record;
  bool progress = false;            ///< progress bar on stderr
  /// Distributed sweep (compress/dist.h, docs/scaling.md): the points still to measure are split
  /// over shard_count processes by estimated cost (dist::balance: MACs the point reruns x images,
  /// plus k-means clustering) and this one measures those of shard_rank; then `gather` (required
  /// when shard_count > 1: dist::Group::allgather) exchanges the new records, so every rank
  /// returns the complete result. on_record sees this rank's points only. `done` must be the
  /// same on every rank.
  int shard_rank = 0, shard_count = 1;
  std::function<std::vector<std::string>(const std::string& mine)> gather;
};

/// Range and name checks; BadInput naming the option ("--bits 17: expected 2..16").
void check_sweep_options(const SweepOptions& o);

struct SweepResult {
  std::string model;                 ///< model name (meta.name)
  std::vector<std::string> layers;   ///< swept layers in graph order
  std::map<std::string, int64_t> layer_params;  ///< weights per layer (for bytes)
  double baseline_accuracy = 0, baseline_loss = 0;  ///< fp32 (BatchNorm folded) on the same images
  int64_t images = 0;                ///< images each point was measured on
  bool cached = true;
  double seconds = 0;                ///< wall time of the whole sweep (this invocation)
  std::vector<SweepRecord> records;  ///< in a fixed order: layer, target, method, bits
};

/// The conv/linear layers of a model (after BatchNorm folding), in graph order.
std::vector<std::string> sweepable_layers(const ir::Graph& g);

/// Layer Analysis over every (layer, target, method, bits) point. `data` holds the evaluation
/// images (val); the first o.calibration of them calibrate activation formats and centroids.
SweepResult sweep_layers(const ir::Graph& fp32, const ir::Dataset& data, const SweepOptions& o);

// ---- Network Space Exploration ----

struct ExploreOptions {
  double max_drop = 0.01;             ///< accuracy budget against fp32 (absolute, 0.01 = 1 pp)
  std::string objective = "bytes";    ///< bytes (weight storage) | bitops (MACs x w bits x a bits)
  std::vector<int> bits = {2, 4, 6, 8, 12, 16};  ///< candidate widths (fixed point)
  int64_t calibration = 1000;
  std::string fl_method = "mse";
  int64_t batch = 500;
  bool progress = false;
};

/// One measured mixed-precision assignment (fixed point; the network input at 8 bits unless
/// every activation is wider, then at the widest).
struct MixedConfig {
  std::string label;                     ///< "uniform 8", "step 3: conv2 weights 8->4", ...
  std::map<std::string, int> weight_bits;  ///< per layer
  std::map<std::string, int> act_bits;     ///< per layer (its output activation)
  int64_t weight_bytes = 0;              ///< packed weights at their widths + int32 biases
  int64_t activation_bytes = 0;          ///< largest layer output at its width
  double bitops = 0;                     ///< sum MACs x weight bits x input activation bits
  double accuracy = 0, loss = 0;
  bool within_budget = false;
  nlohmann::json to_json() const;
};

struct ExploreResult {
  double baseline_accuracy = 0;          ///< fp32 on the same images
  double max_drop = 0;
  std::string objective;
  std::vector<MixedConfig> evaluated;    ///< every configuration measured, in order
  std::vector<size_t> pareto;            ///< indices into evaluated: the front of (bytes, accuracy)
  std::optional<size_t> chosen;          ///< smallest objective within budget
  std::optional<size_t> uniform8;        ///< the uniform 8-bit configuration
  double seconds = 0;
  /// The chosen configuration as the YAML `shrink quantize --config` reads.
  std::string chosen_yaml() const;
};

/// Greedy exploration: uniform widths first (groups), then one tensor at a time lowered to the
/// next candidate width in order of least measured sensitivity (from `sweep`) per byte saved,
/// each candidate verified by measuring the fully quantized model.
ExploreResult explore(const ir::Graph& fp32, const ir::Dataset& data, const SweepResult& sweep,
                      const ExploreOptions& o);

// ---- Reports (sweep_report.cc) ----

/// {"model", "images", "baseline": {"accuracy","loss"}, "seconds", "cached",
///  "sensitivity": [records], "exploration": {...} | null, "chosen_config": {...} | null}
nlohmann::json sweep_report_json(const SweepResult& s, const ExploreResult* e);
/// One line per record: layer,target,method,bits,il,fl,accuracy,loss,sqnr_db,seconds
std::string sweep_report_csv(const SweepResult& s);
/// Self-contained HTML (inline SVG): accuracy-vs-bits per layer and target, heat map layer x
/// bits, the Pareto front and the chosen formats.
std::string sweep_report_html(const SweepResult& s, const ExploreResult* e);
/// DIR/report.json, DIR/report.csv, DIR/report.html (and DIR/mixed_precision.yaml when e has
/// a chosen configuration), each written atomically.
void write_sweep_report(const std::string& dir, const SweepResult& s, const ExploreResult* e);

}  // namespace shrink::quant
