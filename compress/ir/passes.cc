// Graph-to-graph passes of the IR.
#include "compress/ir/passes.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "compress/ir/error.h"

namespace shrink::ir {

namespace {

const Tensor& need_tensor(const Node& n, const char* key) {
  const Tensor* t = n.tensor(key);
  if (!t) throw BadInput("node '", n.name, "' (", op_name(n.op), "): tensor '", key, "' is missing");
  return *t;
}

bool is_output(const Graph& g, const std::string& name) {
  return std::find(g.outputs.begin(), g.outputs.end(), name) != g.outputs.end();
}

// Scales output channel c of producer p by scale[c] and sets bias[c] = (bias[c] - mean[c]) *
// scale[c] + beta[c], in double, rounded once to float.
void fold_into(Node& p, const Node& bn) {
  const Tensor& gamma = need_tensor(bn, "weight");
  const Tensor& beta = need_tensor(bn, "bias");
  const Tensor& mean = need_tensor(bn, "running_mean");
  const Tensor& var = need_tensor(bn, "running_var");
  Tensor& w = *p.tensor("weight");
  const int64_t out = w.shape[0];
  for (const Tensor* t : {&gamma, &beta, &mean, &var})
    if (t->shape != Shape{out})
      throw BadInput("node '", bn.name, "' (BatchNorm): statistics of shape ", shape_str(t->shape),
                     " cannot fold into '", p.name, "' with ", out, " output channels");
  if (!p.tensor("bias")) p.tensors["bias"] = Tensor({out});
  Tensor& b = *p.tensor("bias");
  if (b.shape != Shape{out})
    throw BadInput("node '", p.name, "': bias ", shape_str(b.shape), " does not match ", out, " outputs");
  const int64_t per = out ? w.numel() / out : 0;
  for (int64_t c = 0; c < out; ++c) {
    const double v = static_cast<double>(var.at(c)) + static_cast<double>(bn.eps);
    if (!(v > 0.0))
      throw BadInput("node '", bn.name, "' (BatchNorm): running_var[", c, "] + eps = ", v,
                     ", expected > 0");
    const double scale = static_cast<double>(gamma.at(c)) / std::sqrt(v);
    for (int64_t i = c * per; i < (c + 1) * per; ++i)
      w.at(i) = static_cast<float>(static_cast<double>(w.at(i)) * scale);
    b.at(c) = static_cast<float>((static_cast<double>(b.at(c)) - mean.at(c)) * scale + beta.at(c));
  }
  p.has_bias = true;
}

}  // namespace

int fold_batchnorm(Graph& g) {
  g.infer_shapes();
  std::vector<std::string> bns;
  for (const Node& n : g.nodes)
    if (n.op == Op::BatchNorm) bns.push_back(n.name);
  int folded = 0;
  for (const std::string& name : bns) {
    const Node& bn = g.at(name);
    const std::string src = bn.inputs.at(0);
    Node* p = g.find(src);
    if (!p || (p->op != Op::Conv2d && p->op != Op::Linear) || !p->tensor("weight")) continue;
    if (g.consumers(src) != std::vector<std::string>{name} || is_output(g, src)) continue;
    fold_into(*p, bn);
    g.replace_uses(name, src);
    g.remove(name);
    ++folded;
  }
  if (folded) g.infer_shapes();
  return folded;
}

int batchnorm_to_conv(Graph& g) {
  g.infer_shapes();
  int converted = 0;
  for (Node& n : g.nodes) {
    if (n.op != Op::BatchNorm || n.shape.size() != 3) continue;
    const int64_t c = n.shape[0];
    Node conv;
    conv.name = n.name;
    conv.op = Op::Conv2d;
    conv.inputs = n.inputs;
    conv.in_channels = conv.out_channels = conv.groups = c;
    conv.has_bias = true;
    conv.tensors["weight"] = Tensor({c, 1, 1, 1}, std::vector<float>(static_cast<size_t>(c), 1.0f));
    conv.tensors["bias"] = Tensor({c});
    fold_into(conv, n);  // identity conv, then the BatchNorm folded into it
    conv.state = n.state;
    n = std::move(conv);
    ++converted;
  }
  if (converted) g.infer_shapes();
  return converted;
}

int remove_identities(Graph& g) {
  std::vector<std::string> ids;
  for (const Node& n : g.nodes)
    if (n.op == Op::Identity) ids.push_back(n.name);
  int removed = 0;
  for (const std::string& name : ids) {
    const Node& n = g.at(name);
    if (n.inputs.size() != 1)
      throw BadInput("node '", name, "' (Identity): has ", n.inputs.size(), " inputs, expected 1");
    const std::string src = n.inputs[0];
    // An output that is the graph input itself cannot be expressed without the Identity.
    if (src == Graph::kInput && is_output(g, name)) continue;
    g.replace_uses(name, src);
    g.remove(name);
    ++removed;
  }
  if (removed && !g.meta.input_shape.empty()) g.infer_shapes();
  return removed;
}

}  // namespace shrink::ir
