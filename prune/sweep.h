// Pruning sensitivity sweep (docs/pruning.md): each layer alone pruned at each level with each
// method, accuracy and loss measured on the `val` split, params and MACs counted.
//
//   prune::SweepOptions o;  o.methods = {"l1", "magnitude"};
//   ir::Dataset val = ir::load_dataset("fashion-mnist", ir::Split::Val, 1000);
//   prune::SweepResult s = prune::sweep_pruning(g, val, &val, o);   // one record per point
//   prune::write_sweep_report("out/", s);   // report.json, report.csv, report.html
//
// A point prunes ONE layer and keeps the rest of the model as it is. magnitude: the weights of
// one Conv2d / Linear with the smallest |w| (magnitude_masks); "params" counts nonzero weights
// of the whole model, "macs" stays dense (the analyzer counts MACs of the dense shapes).
// Structured criteria: the channels of one prunable channel group (named by its first
// producer), ranked once per criterion on the unpruned model, chosen at the level
// (choose_channels), masked and thinned, so "params" and "macs" are those of the smaller model.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compress/ir/dataset.h"
#include "compress/ir/graph.h"

namespace shrink::prune {

struct SweepRecord {
  std::string layer;       ///< magnitude: a Conv2d / Linear; structured: a channel group
  std::string method;      ///< magnitude | one of structured_methods()
  double level = 0;        ///< magnitude: weight sparsity of the layer; structured: channel ratio
  double accuracy = 0, loss = 0;
  int64_t params = 0;      ///< whole model (magnitude: nonzero weights)
  int64_t macs = 0;        ///< whole model
  double seconds = 0;      ///< wall time of this point
  /// {"layer", "method", "level", "accuracy", "loss", "params", "macs", "seconds"}
  nlohmann::json to_json() const;
};

struct SweepOptions {
  std::vector<std::string> methods = {"l1", "magnitude"};  ///< magnitude and / or structured criteria
  /// Levels in [0, 1) for every method; empty = the defaults below per kind.
  std::vector<double> levels;
  std::vector<double> structured_levels = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  std::vector<double> magnitude_levels = {0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98};
  uint64_t seed = 1;       ///< random criterion
  int workers = 1;         ///< points measured in parallel (each worker one LibTorch thread)
  int64_t batch = 256;     ///< evaluation batch size
  bool progress = false;   ///< progress bar on stderr
  /// Distributed sweep (compress/dist.h, docs/scaling.md): the points are split over shard_count
  /// processes by estimated cost (dist::balance: the MACs of the pruned model) and this one
  /// measures those of shard_rank; `gather` (required when shard_count > 1:
  /// dist::Group::allgather) exchanges the records, so every rank returns the complete result.
  int shard_rank = 0, shard_count = 1;
  std::function<std::vector<std::string>(const std::string& mine)> gather;
};

/// The methods a pruning sweep knows: "magnitude" then structured_methods().
std::vector<std::string> sweep_methods();

/// Name and range checks; BadInput naming the option ("--levels 1: expected 0 <= level < 1").
void check_sweep_options(const SweepOptions& o);

/// The unpruned model measured on the same images.
struct SweepBaseline {
  double accuracy = 0, loss = 0;
  int64_t params = 0, nonzero_params = 0, macs = 0;
};

struct SweepResult {
  std::string model;                 ///< meta.name
  std::string data;                  ///< the evaluation data's name ("fashion-mnist:val")
  int64_t images = 0;                ///< images each point was measured on
  SweepBaseline baseline;
  std::vector<std::string> methods;  ///< in the order swept
  double seconds = 0;                ///< wall time of the whole sweep
  std::vector<SweepRecord> records;  ///< method, then layer (graph order), then level (ascending)
};

/// Every (method, layer, level) point. `data` holds the evaluation images (val); `rank` feeds
/// the activation criteria's ranking (nullptr: `data`). Throws BadInput for bad options, a
/// quantized model or a model with nothing to prune.
SweepResult sweep_pruning(const ir::Graph& g, const ir::Dataset& data, const ir::Dataset* rank,
                          const SweepOptions& o);

// ---- Reports (sweep_report.cc) ----

/// {"model", "data", "images", "baseline": {"accuracy", "loss", "params", "nonzero_params",
///  "macs"}, "seconds", "pruning": [records]}
nlohmann::json sweep_report_json(const SweepResult& s);
/// layer,method,level,accuracy,loss,params,macs,seconds: a header and one line per record.
std::string sweep_report_csv(const SweepResult& s);
/// Self-contained HTML (inline SVG): per method, accuracy vs level with one curve per layer,
/// and a table of every record.
std::string sweep_report_html(const SweepResult& s);
/// DIR/report.json, DIR/report.csv, DIR/report.html, each written atomically.
void write_sweep_report(const std::string& dir, const SweepResult& s);

}  // namespace shrink::prune
