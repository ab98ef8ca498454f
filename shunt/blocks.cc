#include "shunt/blocks.h"

#include <algorithm>
#include <map>
#include <set>

#include "compress/executor_setup.h"
#include "compress/ir/analyzer.h"
#include "compress/ir/error.h"
#include "compress/progress.h"
#include "compress/train.h"

namespace shrink::shunt {

namespace {

std::string prefix_of(const std::string& name) { return name.substr(0, name.find('.')); }

struct Segment {
  std::string entry, exit;
  std::vector<std::string> nodes;
  std::string add, branch;
};

// The Add ending a segment, if it adds the segment's entry to a branch.
void detect_residual(const ir::Graph& g, Segment& s) {
  const ir::Node& last = g.at(s.exit);
  if (last.op != ir::Op::Add || last.inputs.size() != 2) return;
  for (int i = 0; i < 2; ++i)
    if (last.inputs[static_cast<size_t>(i)] == s.entry && last.inputs[static_cast<size_t>(1 - i)] != s.entry) {
      s.add = last.name;
      s.branch = last.inputs[static_cast<size_t>(1 - i)];
    }
}

}  // namespace

std::vector<Block> find_blocks(const ir::Graph& graph) {
  ir::Graph g = graph;
  g.infer_shapes();
  if (g.outputs.size() != 1) throw BadInput("shunt: the model has ", g.outputs.size(), " outputs, expected one");
  const int n = static_cast<int>(g.nodes.size());
  std::map<std::string, int> pos;
  pos[ir::Graph::kInput] = -1;
  for (int i = 0; i < n; ++i) pos[g.nodes[static_cast<size_t>(i)].name] = i;
  // jumped[i] > 0: an edge goes from before node i to after it, so i is not a cut.
  std::vector<int> diff(static_cast<size_t>(n) + 1, 0);
  for (int w = 0; w < n; ++w)
    for (const auto& in : g.nodes[static_cast<size_t>(w)].inputs) {
      int u = pos.at(in);
      if (w - u > 1) {
        ++diff[static_cast<size_t>(u + 1)];
        --diff[static_cast<size_t>(w)];
      }
    }
  std::vector<Segment> segs;
  Segment cur;
  cur.entry = ir::Graph::kInput;
  int jumped = 0;
  for (int i = 0; i < n; ++i) {
    jumped += diff[static_cast<size_t>(i)];
    const std::string& name = g.nodes[static_cast<size_t>(i)].name;
    cur.nodes.push_back(name);
    if (jumped == 0) {
      cur.exit = name;
      detect_residual(g, cur);
      segs.push_back(cur);
      cur = Segment();
      cur.entry = name;
    }
    if (name == g.outputs[0]) break;  // nodes after the output (dead) belong to no block
  }

  const ir::Analysis a = ir::analyze(g, {});
  std::map<std::string, int64_t> macs;
  for (const auto& l : a.layers) macs[l.name] = l.macs;

  std::vector<Block> blocks;
  for (const Segment& s : segs) {
    const std::string p = prefix_of(s.nodes.front());
    bool same = !blocks.empty() && blocks.back().name == p &&
                std::all_of(s.nodes.begin(), s.nodes.end(), [&](const std::string& m) { return prefix_of(m) == p; }) &&
                std::all_of(blocks.back().nodes.begin(), blocks.back().nodes.end(),
                            [&](const std::string& m) { return prefix_of(m) == p; }) &&
                !(blocks.back().residual() && !s.add.empty());
    if (!same) {
      Block b;
      b.id = static_cast<int>(blocks.size());
      b.entry = s.entry;
      bool shared = std::all_of(s.nodes.begin(), s.nodes.end(), [&](const std::string& m) { return prefix_of(m) == p; });
      b.name = shared ? p : s.nodes.front();
      blocks.push_back(b);
    }
    Block& b = blocks.back();
    b.nodes.insert(b.nodes.end(), s.nodes.begin(), s.nodes.end());
    b.exit = s.exit;
    if (!s.add.empty()) {
      b.add = s.add;
      b.branch = s.branch;
    }
  }
  for (Block& b : blocks) {
    for (const auto& m : b.nodes) b.macs += macs.count(m) ? macs[m] : 0;
    b.in_shape = g.shape_of(b.entry);
    b.out_shape = g.shape_of(b.exit);
  }
  return blocks;
}

std::vector<Block> residual_blocks(const std::vector<Block>& blocks, const std::string& model_name) {
  std::vector<Block> r;
  for (const auto& b : blocks)
    if (b.residual()) r.push_back(b);
  if (r.empty())
    throw BadInput("shunt: model '", model_name,
                   "' has no residual blocks (an Add of a block's input and its branch); shunts replace runs of "
                   "residual blocks, e.g. in the zoo's mobilenetv2 or resnet8");
  return r;
}

ir::Graph remove_block(const ir::Graph& graph, const Block& b) {
  if (!b.residual()) throw BadInput("shunt: block ", b.id, " (", b.name, ") is not a residual block");
  ir::Graph g = graph;
  const ir::Node& add = g.at(b.add);
  const std::string entry = add.inputs[0] == b.branch ? add.inputs[1] : add.inputs[0];
  g.replace_uses(b.add, entry);
  // Delete what nothing uses any more, from the back (the Add first, then its branch).
  std::set<std::string> block_nodes(b.nodes.begin(), b.nodes.end());
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = g.nodes.size(); i-- > 0;) {
      const std::string name = g.nodes[i].name;
      if (!block_nodes.count(name) || !g.consumers(name).empty() ||
          std::find(g.outputs.begin(), g.outputs.end(), name) != g.outputs.end())
        continue;
      g.remove(name);
      changed = true;
    }
  }
  g.infer_shapes();
  return g;
}

KqTable knowledge_quotients(const ir::Graph& g, const ir::Dataset& val, bool progress) {
  std::vector<Block> blocks = residual_blocks(find_blocks(g), g.meta.name);
  auto accuracy = [&](const ir::Graph& m) {
    return evaluate(make_model_executor(m, ExecutorPurpose::Eval)->executor(), val, 256, false).accuracy;
  };
  KqTable t;
  t.images = val.size;
  t.macs = ir::analyze(g, {}).macs;
  ProgressBar bar(static_cast<int64_t>(blocks.size()) + 1, "knowledge quotients", progress);
  t.accuracy = accuracy(g);
  bar.update(1);
  if (!(t.accuracy > 0)) throw BadInput("shunt: the model's accuracy on ", val.size, " val images is 0; train it first");
  for (const Block& b : blocks) {
    KqRow r;
    r.block = b;
    r.accuracy_without = accuracy(remove_block(g, b));
    r.kq = 1.0 - r.accuracy_without / t.accuracy;
    t.rows.push_back(r);
    bar.update(static_cast<int64_t>(t.rows.size()) + 1);
  }
  bar.finish("accuracy " + std::to_string(t.accuracy));
  return t;
}

int64_t shunt_stride(const ir::Shape& in, const ir::Shape& out) {
  if (in.size() != 3 || out.size() != 3) return 0;
  for (int64_t s = 1; s <= std::max(in[1], in[2]); ++s)
    if ((in[1] - 1) / s + 1 == out[1] && (in[2] - 1) / s + 1 == out[2]) return s;
  return 0;
}

Run make_run(const std::vector<Block>& blocks, int first, int last) {
  const int n = static_cast<int>(blocks.size());
  if (first < 0 || last < 0 || first >= n || last >= n)
    throw BadInput("shunt: blocks ", first, "-", last, " do not exist (block ids are 0..", n - 1, ")");
  if (first > last) throw BadInput("shunt: blocks ", first, "-", last, ": the first block comes after the last");
  const Block& a = blocks[static_cast<size_t>(first)];
  const Block& b = blocks[static_cast<size_t>(last)];
  if (a.entry == ir::Graph::kInput)
    throw BadInput("shunt: block ", first, " (", a.name, ") reads the model's input; a shunt replaces blocks inside the network");
  Run r;
  r.first = first;
  r.last = last;
  r.entry = a.entry;
  r.exit = b.exit;
  r.in_shape = a.in_shape;
  r.out_shape = b.out_shape;
  r.stride = shunt_stride(r.in_shape, r.out_shape);
  if (r.stride == 0)
    throw BadInput("shunt: blocks ", first, "-", last, " (", a.name, " to ", b.name, ") map ", ir::shape_str(r.in_shape),
                   " to ", ir::shape_str(r.out_shape),
                   "; no shunt fits (a shunt maps {C, H, W} to {C', H', W'} with H' = (H - 1) / s + 1)");
  for (int i = first; i <= last; ++i) {
    r.macs += blocks[static_cast<size_t>(i)].macs;
    const auto& nodes = blocks[static_cast<size_t>(i)].nodes;
    r.nodes.insert(r.nodes.end(), nodes.begin(), nodes.end());
  }
  return r;
}

std::pair<int, int> parse_block_range(const std::vector<Block>& blocks, const std::string& text) {
  auto one = [&](const std::string& s) {
    for (const auto& b : blocks)
      if (b.name == s) return b.id;
    bool digits = !s.empty() && s.size() < 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits && std::stoi(s) < static_cast<int>(blocks.size())) return std::stoi(s);
    std::string known;
    for (const auto& b : blocks) known += (known.empty() ? "" : ", ") + std::to_string(b.id) + " " + b.name;
    throw BadInput("shunt: no block '", s, "' (blocks: ", known, ")");
  };
  auto dash = text.find('-');
  if (dash == std::string::npos) {
    int i = one(text);
    return {i, i};
  }
  return {one(text.substr(0, dash)), one(text.substr(dash + 1))};
}

}  // namespace shrink::shunt
