// Shunt architectures and their insertion in place of a run of blocks (docs/shunt.md).
//
//   shunt::ShuntSpec s;  s.arch = "arch1";  s.width = 2;
//   shunt::Inserted ins = shunt::insert_shunt(g, run, s);   // ins.graph, ins.output, ins.nodes
//
// Every architecture maps the run's input {C, H, W} to its output {C', H', W'} with a spatial
// stride s (H' = (H - 1) / s + 1; 3x3 kernels, padding 1). Hidden channels h =
// make_divisible(width * C'). BatchNorm follows every convolution, ReLU6 every one but the last:
//   arch1  1x1 C->h, depthwise 3x3 stride s, 1x1 h->C'      (an inverted residual; width 2)
//   arch2  1x1 C->h, depthwise 3x3 stride s, depthwise 3x3 dilation 2, 1x1 h->C'   (width 2)
//   arch3  1x1 C->h, dense 3x3 stride s h->h, 1x1 h->C'     (a reduced-width bottleneck; width 0.5)
//   arch4  depthwise 3x3 stride s on C, 1x1 C->C'           (depthwise separable; no width)
// arch1 and arch2 add their input back (a residual Add) when the shapes are equal; their last
// BatchNorm's gamma then starts at 0, so the shunt starts as the identity.
// Nodes are named "<prefix>.<part>", prefix "shunt" (or "shunt2", ... if taken).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/graph.h"
#include "shunt/blocks.h"

namespace shrink::shunt {

struct ShuntSpec {
  std::string arch = "arch1";
  double width = 0;   ///< hidden channels per output channel; 0 = the architecture's default
  uint64_t seed = 1;  ///< initialisation
};

std::vector<std::string> arch_names();  ///< arch1, arch2, arch3, arch4
/// Throws BadInput for an unknown architecture or a width < 0.
void check_spec(const ShuntSpec& s);
/// The width used: s.width, or the architecture's default.
double effective_width(const ShuntSpec& s);

struct Inserted {
  ir::Graph graph;                 ///< shapes inferred
  std::string output;              ///< the shunt's last node (consumers of the run's exit read it)
  std::vector<std::string> nodes;  ///< the shunt's nodes
  int64_t macs = 0;                ///< of the shunt
};

/// Appends a shunt reading `in` to g (shapes not inferred). Returns its nodes; the last is the output.
std::vector<std::string> build_shunt(ir::Graph& g, const std::string& prefix, const std::string& in,
                                     const ir::Shape& in_shape, const ir::Shape& out_shape, const ShuntSpec& s);

/// `g` with the run's blocks replaced by a shunt.
Inserted insert_shunt(const ir::Graph& g, const Run& run, const ShuntSpec& s);

/// MACs of the shunt a spec gives for a run (without building the model).
int64_t shunt_macs(const Run& run, const ShuntSpec& s);

}  // namespace shrink::shunt
