// Channel ranking criteria of structured pruning (docs/pruning.md): a score per channel of
// every prunable group; low scores are removed first.
//
//   auto scores = prune::rank_channels(g, a, "l1", val_subset, {.seed = 1});
//   // scores["conv1"][c]: higher = more important
//
// Criteria: random; l1 (mean |w| of the channel's filters over the group's producers);
// mean-activation (mean |a|), entropy (of the per-sample spatial means, 32-bin histogram),
// scaled-entropy (entropy x mean |a|), apoz (1 - fraction of values <= 0: the zeros of a ReLU output,
// or what a ReLU would zero in a group without one), sensitivity
// (first-order Taylor estimate of the loss change when the channel is removed:
// |mean over samples of sum over positions of a * dL/da|, Molchanov et al. 2017). Activation
// criteria read the group's "probe" tensors: its ReLU / ReLU6 / LeakyReLU members, or without
// one, its members that a non-member reads.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "compress/ir/dataset.h"
#include "compress/ir/graph.h"
#include "prune/channels.h"

namespace shrink::prune {

/// The structured criteria, in the order of docs/pruning.md.
const std::vector<std::string>& structured_methods();

struct RankOptions {
  uint64_t seed = 1;         ///< random criterion
  int64_t batch_size = 128;  ///< activation criteria
};

/// Scores for every prunable group (by group name). `data` feeds the activation criteria (the
/// weight-only criteria ignore it). Throws BadInput for an unknown criterion.
std::map<std::string, std::vector<double>> rank_channels(const ir::Graph& g, const ChannelAnalysis& a,
                                                         const std::string& criterion, const ir::Dataset& data,
                                                         const RankOptions& o = {});

/// Which channels to keep: per group, the `ratio` lowest-scored channels removed (rounded down,
/// at least one kept); with `global`, one threshold over all groups on scores normalised by
/// their group's root mean square. Only the groups named in `ratios` are pruned, each with its
/// own ratio (global: the mean ratio sets the total).
std::map<std::string, std::vector<bool>> choose_channels(const std::map<std::string, std::vector<double>>& scores,
                                                         const std::map<std::string, double>& ratios, bool global);

}  // namespace shrink::prune
