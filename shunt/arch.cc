#include "shunt/arch.h"

#include <algorithm>
#include <set>

#include "compress/graph_builder.h"
#include "compress/ir/analyzer.h"
#include "compress/ir/error.h"
#include "compress/zoo.h"

namespace shrink::shunt {

std::vector<std::string> arch_names() { return {"arch1", "arch2", "arch3", "arch4"}; }

void check_spec(const ShuntSpec& s) {
  auto names = arch_names();
  if (std::find(names.begin(), names.end(), s.arch) == names.end())
    throw BadInput("shunt: unknown architecture '", s.arch, "' (known: arch1, arch2, arch3, arch4)");
  if (!(s.width >= 0)) throw BadInput("shunt: width is ", s.width, ", expected > 0 (or 0 for the default)");
}

double effective_width(const ShuntSpec& s) {
  if (s.width > 0) return s.width;
  return s.arch == "arch3" ? 0.5 : s.arch == "arch4" ? 0 : 2;
}

std::vector<std::string> build_shunt(ir::Graph& g, const std::string& p, const std::string& in,
                                     const ir::Shape& in_shape, const ir::Shape& out_shape, const ShuntSpec& s) {
  check_spec(s);
  const int64_t stride = shunt_stride(in_shape, out_shape);
  if (stride == 0)
    throw BadInput("shunt: no shunt maps ", ir::shape_str(in_shape), " to ", ir::shape_str(out_shape));
  const int64_t cin = in_shape[0], cout = out_shape[0];
  const int64_t h = s.arch == "arch4" ? cin : zoo::make_divisible(effective_width(s) * static_cast<double>(cout));
  const size_t first = g.nodes.size();
  GraphBuilder b(g, s.seed);
  // conv (+ BN, + ReLU6 unless last); returns the output name.
  auto layer = [&](const std::string& part, const std::string& x, int64_t ci, int64_t co, int64_t k, int64_t st,
                   int64_t groups, int64_t dilation, bool relu) {
    std::string y = b.conv(p + "." + part, x, ci, co, k, st, k == 3 ? dilation : 0, groups, false, dilation);
    y = b.bn(p + "." + part + ".bn", y, co);
    return relu ? b.simple(p + "." + part + ".relu", ir::Op::ReLU6, {y}) : y;
  };
  std::string x = in;
  if (s.arch == "arch1" || s.arch == "arch2") {
    x = layer("expand", x, cin, h, 1, 1, 1, 1, true);
    x = layer("dw", x, h, h, 3, stride, h, 1, true);
    if (s.arch == "arch2") x = layer("dw2", x, h, h, 3, 1, h, 2, true);
    x = layer("project", x, h, cout, 1, 1, 1, 1, false);
    if (in_shape == out_shape) {
      // Zero-initialised last gamma: the shunt starts as the identity, as a residual block
      // that adds nothing yet (in train mode too, where BatchNorm would output unit variance).
      ir::Tensor& gamma = g.at(x).tensors.at("weight");
      for (int64_t i = 0; i < gamma.numel(); ++i) gamma.at(i) = 0.0f;
      x = b.simple(p + ".add", ir::Op::Add, {in, x});
    }
  } else if (s.arch == "arch3") {
    x = layer("reduce", x, cin, h, 1, 1, 1, 1, true);
    x = layer("conv", x, h, h, 3, stride, 1, 1, true);
    x = layer("project", x, h, cout, 1, 1, 1, 1, false);
  } else {
    x = layer("dw", x, cin, cin, 3, stride, cin, 1, true);
    x = layer("project", x, cin, cout, 1, 1, 1, 1, false);
  }
  std::vector<std::string> nodes;
  for (size_t i = first; i < g.nodes.size(); ++i) nodes.push_back(g.nodes[i].name);
  return nodes;
}

Inserted insert_shunt(const ir::Graph& graph, const Run& run, const ShuntSpec& s) {
  Inserted r;
  r.graph = graph;
  ir::Graph& g = r.graph;
  std::string prefix = "shunt";
  for (int k = 2; std::any_of(g.nodes.begin(), g.nodes.end(),
                              [&](const ir::Node& n) { return n.name.rfind(prefix, 0) == 0; });
       ++k)
    prefix = "shunt" + std::to_string(k);
  r.nodes = build_shunt(g, prefix, run.entry, run.in_shape, run.out_shape, s);
  r.output = r.nodes.back();
  // Consumers of the run's exit (outside the run) read the shunt; then the run's nodes go.
  std::set<std::string> run_nodes(run.nodes.begin(), run.nodes.end());
  for (auto& n : g.nodes)
    if (!run_nodes.count(n.name) && n.name.rfind(prefix + ".", 0) != 0)
      for (auto& in : n.inputs)
        if (in == run.exit) in = r.output;
  for (auto& o : g.outputs)
    if (o == run.exit) o = r.output;
  for (size_t i = run.nodes.size(); i-- > 0;) g.remove(run.nodes[i]);
  g.infer_shapes();
  const ir::Analysis a = ir::analyze(g, {});
  std::set<std::string> mine(r.nodes.begin(), r.nodes.end());
  for (const auto& l : a.layers)
    if (mine.count(l.name)) r.macs += l.macs;
  return r;
}

int64_t shunt_macs(const Run& run, const ShuntSpec& s) {
  ir::Graph g;
  g.meta.input_shape = run.in_shape;
  std::vector<std::string> nodes = build_shunt(g, "shunt", ir::Graph::kInput, run.in_shape, run.out_shape, s);
  g.outputs = {nodes.back()};
  g.infer_shapes();
  return ir::analyze(g, {}).macs;
}

}  // namespace shrink::shunt
