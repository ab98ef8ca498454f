// The block structure of a network's main path, residual blocks, the Knowledge Quotient, and
// runs of blocks a shunt can replace (docs/shunt.md).
//
//   std::vector<shunt::Block> blocks = shunt::find_blocks(g);     // MobileNetV2 zoo: blockK has id K
//   ir::Graph without = shunt::remove_block(g, blocks[5]);        // block 5 becomes the identity
//   shunt::KqTable t = shunt::knowledge_quotients(g, val);        // t.rows[i].kq
//   shunt::Run r = shunt::make_run(g, blocks, 8, 10);             // throws BadInput if no shunt fits
//
// Blocks. A cut of the graph is a node every path from the input to the output goes through
// (no edge jumps over it in topological order). Consecutive cuts delimit segments; a segment
// whose last node is an Add of the segment's entry and a branch is a residual block body.
// Consecutive segments whose node names share the prefix before the first '.' form one block
// (at most one residual body each): the zoo's "block4.expand", "block4.dw", ... are block4.
// Block ids count from 0 along the path.
//
// Knowledge Quotient (Haas et al. 2021, as the authors' code computes it): for a residual block
// b, KQ_b = 1 - acc(model with b's residual branch removed, the Add passing its entry through)
// / acc(original), on the val split. Low KQ: the block adds little; a candidate for a shunt.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/dataset.h"
#include "compress/ir/graph.h"

namespace shrink::shunt {

struct Block {
  int id = 0;                       ///< position on the main path, from 0
  std::string name;                 ///< shared name prefix ("block5"), else its first node's name
  std::string entry;                ///< the tensor entering the block (a node or Graph::kInput)
  std::string exit;                 ///< its last node: the tensor leaving it
  std::vector<std::string> nodes;   ///< in graph order
  std::string add;                  ///< residual blocks: the Add of entry and branch (else empty)
  std::string branch;               ///< residual blocks: the Add's other input
  int64_t macs = 0;
  ir::Shape in_shape, out_shape;
  bool residual() const { return !add.empty(); }
};

/// The blocks of the main path, in order. Needs shapes (infer_shapes is run on a copy).
std::vector<Block> find_blocks(const ir::Graph& g);

/// The residual blocks only; throws BadInput("... has no residual blocks ...") when there is none.
std::vector<Block> residual_blocks(const std::vector<Block>& blocks, const std::string& model_name);

/// `g` with residual block b's branch removed: the Add's consumers read b.entry, the branch's
/// nodes are deleted. Throws BadInput for a block that is not residual.
ir::Graph remove_block(const ir::Graph& g, const Block& b);

struct KqRow {
  Block block;
  double accuracy_without = 0;  ///< val accuracy with the block's branch removed
  double kq = 0;                ///< 1 - accuracy_without / accuracy
};

struct KqTable {
  double accuracy = 0;          ///< of the original model on the same images
  int64_t images = 0;
  int64_t macs = 0;             ///< of the whole model
  std::vector<KqRow> rows;      ///< one per residual block, in path order
};

/// Measures the Knowledge Quotient of every residual block on `val`.
KqTable knowledge_quotients(const ir::Graph& g, const ir::Dataset& val, bool progress = false);

/// A run of consecutive blocks first..last (ids) and the shape a shunt must map.
struct Run {
  int first = 0, last = 0;
  std::string entry, exit;          ///< first block's entry, last block's exit
  ir::Shape in_shape, out_shape;    ///< {C, H, W} each
  int64_t stride = 1;               ///< spatial stride the shunt needs
  int64_t macs = 0;                 ///< of the run's blocks
  std::vector<std::string> nodes;   ///< every node of the run
};

/// The stride s with floor((H - 1) / s) + 1 == H' (3x3 kernel, padding 1) in both dimensions, or
/// 0 when there is none or the shapes are not {C, H, W}.
int64_t shunt_stride(const ir::Shape& in, const ir::Shape& out);

/// The run of blocks first..last. Throws BadInput when an id does not exist, first > last, the
/// run starts at the model's input, or no shunt maps its input shape to its output shape.
Run make_run(const std::vector<Block>& blocks, int first, int last);

/// "8-10", "8", "block8-block10" or "block8" -> {first, last} block ids; BadInput naming the
/// known blocks when a name or id does not exist.
std::pair<int, int> parse_block_range(const std::vector<Block>& blocks, const std::string& text);

}  // namespace shrink::shunt
