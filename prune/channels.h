// Channel dependency analysis and thinning: which output channels of which layers must be
// removed together, and their physical removal.
//
//   prune::ChannelAnalysis a = prune::analyze_channels(g);
//   for (const auto& grp : a.groups) if (grp.prunable) ...      // grp.name, grp.channels
//   prune::set_channel_masks(g, a, {{"conv1", keep}});          // "out_mask" on every member
//   ir::Graph small = prune::thin(g);                           // masked channels removed
//
// Every tensor's channels (dim 1; the features of a 2-D tensor) are traced back to a channel
// group: a Conv2d (groups = 1) or Linear creates one, with one channel per output channel;
// BatchNorm, activations, pooling, Identity and depthwise convolutions keep their input's
// channels; Concat (axis 1) concatenates them; Flatten repeats each channel H x W times; an Add
// merges the groups of its inputs channel by channel (a residual stream and every block writing
// into it prune the same channels). A group is not prunable when it reaches the graph input or
// output, a grouped (not depthwise) convolution, a Reshape, a Softmax, a Concat on another axis,
// or an Add whose inputs do not line up channel by channel.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace shrink::prune {

struct ChannelGroup {
  std::string name;                    ///< the first producer's name (what users name)
  int64_t channels = 0;
  std::vector<std::string> producers;  ///< Conv2d / Linear nodes creating these channels
  std::vector<std::string> members;    ///< every node whose output carries them (producers included)
  bool prunable = true;
  std::string why_not;                 ///< when not prunable: one phrase
};

/// A channel of a tensor: (group index, channel in the group).
struct ChannelRef {
  int group = -1;  ///< -1: the graph input or a non-prunable origin
  int64_t index = 0;
};

struct ChannelAnalysis {
  std::vector<ChannelGroup> groups;
  /// For each node name (and ir::Graph::kInput): its output's channels, dim 1 (2-D: features).
  std::map<std::string, std::vector<ChannelRef>> channels;
  /// Group index by group name; throws BadInput naming the prunable groups if unknown.
  int find(const std::string& name) const;
};

ChannelAnalysis analyze_channels(const ir::Graph& g);

/// Puts an "out_mask" {C} on every node carrying a channel of a group in `keep` (group name ->
/// one flag per channel, true = keep): the executor then reads removed channels as zeros, which
/// is exactly what thin() computes without them. Throws BadInput for an unknown or unprunable
/// group, a wrong flag count or a group with no channel kept.
void set_channel_masks(ir::Graph& g, const ChannelAnalysis& a, const std::map<std::string, std::vector<bool>>& keep);

/// Removes every channel whose "out_mask" is 0 on its group's first producer: weight rows and
/// bias entries of producers, per-channel tensors of BatchNorm and depthwise convolutions, the
/// matching input columns of every consuming Conv2d / Linear (through Flatten and Concat), and
/// fixes channel counts; masks are dropped. Outputs equal those of the masked graph (up to
/// floating-point summation order). Throws BadInput for a quantized graph (prune first).
ir::Graph thin(const ir::Graph& g);

}  // namespace shrink::prune
