// Pruning passes (docs/pruning.md): unstructured magnitude pruning (one-shot, iterative or
// gradual AGP interleaved with fine-tuning) and structured channel pruning ranked by one of
// seven criteria, with the removed channels physically taken out (prune/channels.h).
//
//   prune::PruneOptions o;  o.method = "l1";  o.ratio = 0.5;
//   ir::Graph small = prune::prune_model(g, o, {.rank = &val_subset});
//   o = {};  o.method = "magnitude";  o.sparsity = 0.9;  o.schedule = "agp";  o.steps = 10;
//   o.train.epochs = 2;
//   ir::Graph sparse = prune::prune_model(g, o, {.train = &train_set, .val = &val});
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compress/ir/dataset.h"
#include "compress/ir/graph.h"
#include "compress/train.h"

namespace shrink::prune {

struct PruneOptions {
  std::string method = "magnitude";    ///< magnitude | one of structured_methods()
  std::optional<double> sparsity;      ///< magnitude: fraction of weights removed, [0, 1)
  std::optional<double> ratio;         ///< structured: fraction of channels removed, [0, 1)
  /// Per layer (magnitude: Conv2d / Linear names) or per channel group (structured: the group's
  /// first producer) levels; when set, only these are pruned. Empty: every layer / prunable group
  /// at `sparsity` / `ratio`.
  std::map<std::string, double> layers;
  bool global = false;                 ///< one threshold over all layers instead of one per layer
  std::string schedule = "oneshot";    ///< magnitude: oneshot | iterative | agp
  int steps = 10;                      ///< iterative / agp: pruning steps
  bool thin = true;                    ///< structured: remove the channels (false: keep masks)
  TrainOptions train;                  ///< fine-tuning (train.epochs = 0: none)
  uint64_t seed = 1;
};

struct PruneData {
  const ir::Dataset* train = nullptr;  ///< fine-tuning (needed when train.epochs > 0)
  const ir::Dataset* val = nullptr;    ///< per-epoch metrics while fine-tuning (optional)
  const ir::Dataset* rank = nullptr;   ///< activation criteria (mean-activation ... sensitivity)
};

/// Checks option values; calls fail(key, message) for the first bad one (keys as the recipe's).
void check_options(const PruneOptions& o, const std::function<void(const std::string&, const std::string&)>& fail);

/// Returns the pruned (and fine-tuned) model. Throws BadInput for bad options, unknown layers,
/// a layer that cannot be pruned, or missing data.
ir::Graph prune_model(const ir::Graph& g, const PruneOptions& o, const PruneData& d);

/// AGP sparsity (Zhu & Gupta 2017) at step t of n: s_f + (s_i - s_f) (1 - t / n)^3.
double agp_sparsity(double s_initial, double s_final, int64_t t, int64_t n);

/// Sets "weight_mask" on the named Conv2d / Linear layers (name -> sparsity) so that the given
/// fraction of each layer's weights (global: of all their weights together, at the mean level)
/// with the smallest magnitudes is removed, and zeroes those weights. Masks only grow.
void magnitude_masks(ir::Graph& g, const std::map<std::string, double>& levels, bool global);

/// Fraction of zero weights of Conv2d / Linear layers: per layer and overall ("" key).
std::map<std::string, double> weight_sparsity(const ir::Graph& g);

}  // namespace shrink::prune
