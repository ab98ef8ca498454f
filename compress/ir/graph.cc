// Graph IR: lookup, editing, validation (topological re-sort) and shape inference.
//
// Shape inference contract (shapes exclude the batch dimension):
// - Conv2d: input {C, H, W}; weight {out, C/groups, kh, kw} with (kh, kw) == kernel; bias {out}.
//   H_out = floor((H + pad_top + pad_bottom - dilation_h * (kh - 1) - 1) / stride_h) + 1.
//   in_channels / out_channels are filled from the weight when zero, checked otherwise.
// - Linear: input {F}; weight {out, F}; bias {out}.
// - Tensors are optional (a structure-only graph infers from out_channels / kernel); when
//   present they must have the shapes above.
// - MaxPool / AvgPool: PyTorch / ONNX rule, pads may be asymmetric:
//   out = floor_or_ceil((H + pad_begin + pad_end - dilation * (k - 1) - 1) / s) + 1, and with
//   ceil_mode a last window that would start inside the end padding is dropped.
// - Concat / Softmax axis counts the batch as axis 0 (negative axes count from the end).
#include "compress/ir/graph.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <set>
#include <unordered_map>

#include "compress/ir/error.h"

namespace shrink::ir {

namespace {

struct OpEntry {
  Op op;
  const char* name;
};

constexpr OpEntry kOps[] = {
    {Op::Conv2d, "Conv2d"},       {Op::Linear, "Linear"},
    {Op::BatchNorm, "BatchNorm"}, {Op::ReLU, "ReLU"},
    {Op::ReLU6, "ReLU6"},         {Op::LeakyReLU, "LeakyReLU"},
    {Op::Sigmoid, "Sigmoid"},     {Op::Tanh, "Tanh"},
    {Op::MaxPool, "MaxPool"},     {Op::AvgPool, "AvgPool"},
    {Op::GlobalAvgPool, "GlobalAvgPool"}, {Op::Add, "Add"},
    {Op::Concat, "Concat"},       {Op::Flatten, "Flatten"},
    {Op::Reshape, "Reshape"},     {Op::Softmax, "Softmax"},
    {Op::Identity, "Identity"},
};

std::string node_desc(const Node& n) { return detail::concat("node '", n.name, "' (", op_name(n.op), ")"); }

std::string input_shapes_str(const std::vector<const Shape*>& in) {
  std::string s;
  for (size_t i = 0; i < in.size(); ++i) s += (i ? ", " : "") + shape_str(*in[i]);
  return s;
}

std::string pair_str(const std::array<int64_t, 2>& a) { return detail::concat(a[0], "x", a[1]); }

// Normalizes an axis that counts the batch as 0 to a dim of the batch-less shape of rank `rank`.
int64_t normalize_axis(const Node& n, int64_t axis, size_t rank, const std::string& shapes) {
  int64_t r = static_cast<int64_t>(rank);
  int64_t full = axis < 0 ? axis + r + 1 : axis;  // in the rank+1 space with batch
  if (full < 1 || full > r)
    throw BadInput(node_desc(n), ": axis ", axis, " is out of range for input ", shapes,
                   " (expected 1..", r, " or -", r, "..-1; axis 0 is the batch)");
  return full - 1;
}

void check_window(const Node& n) {
  for (int i = 0; i < 2; ++i) {
    if (n.kernel[i] < 1 || n.stride[i] < 1 || n.dilation[i] < 1)
      throw BadInput(node_desc(n), ": kernel ", pair_str(n.kernel), ", stride ", pair_str(n.stride),
                     ", dilation ", pair_str(n.dilation), " must all be >= 1");
  }
  for (int64_t p : n.pads)
    if (p < 0)
      throw BadInput(node_desc(n), ": pads [", n.pads[0], ", ", n.pads[1], ", ", n.pads[2], ", ",
                     n.pads[3], "] must be >= 0");
  // Caps that keep window_out's int64 arithmetic far from overflow (hostile files, issue 9).
  constexpr int64_t kMax = 2147483647;
  for (int i = 0; i < 2; ++i)
    if (n.kernel[i] > kMax || n.stride[i] > kMax || n.dilation[i] > kMax)
      throw BadInput(node_desc(n), ": kernel ", pair_str(n.kernel), ", stride ", pair_str(n.stride),
                     ", dilation ", pair_str(n.dilation), " must all be <= 2^31 - 1");
  for (int64_t p : n.pads)
    if (p > kMax)
      throw BadInput(node_desc(n), ": pads [", n.pads[0], ", ", n.pads[1], ", ", n.pads[2], ", ",
                     n.pads[3], "] must be <= 2^31 - 1");
}

int64_t window_out(const Node& n, int dim, int64_t in, bool ceil_mode, const std::string& shapes) {
  int64_t pb = n.pads[dim], pe = n.pads[dim + 2];
  int64_t span = n.dilation[dim] * (n.kernel[dim] - 1) + 1;
  int64_t avail = in + pb + pe - span;
  int64_t out = -1;
  if (avail >= 0) {
    int64_t s = n.stride[dim];
    out = (ceil_mode ? (avail + s - 1) / s : avail / s) + 1;
    if (ceil_mode && (out - 1) * s >= in + pb) --out;
  }
  if (out < 1)
    throw BadInput(node_desc(n), ": input ", shapes, " is too small for kernel ", pair_str(n.kernel),
                   " with dilation ", pair_str(n.dilation), ", stride ", pair_str(n.stride),
                   " and pads [", n.pads[0], ", ", n.pads[1], ", ", n.pads[2], ", ", n.pads[3],
                   "] (output size would be ", out, ")");
  return out;
}

void check_vector_tensor(const Node& n, const std::string& key, int64_t len) {
  const Tensor* t = n.tensor(key);
  if (t && t->shape != Shape{len})
    throw BadInput(node_desc(n), ": tensor '", key, "' has shape ", shape_str(t->shape), ", expected [",
                   len, "]");
}

void check_bias(const Node& n, int64_t out) {
  if (!n.has_bias && n.tensor("bias"))
    throw BadInput(node_desc(n), ": has_bias is false but a 'bias' tensor is present");
  check_vector_tensor(n, "bias", out);
}

Shape infer_conv(Node& n, const Shape& x, const std::string& shapes) {
  if (x.size() != 3) throw BadInput(node_desc(n), ": input ", shapes, " must be 3-D {C, H, W}");
  check_window(n);
  if (n.groups < 1) throw BadInput(node_desc(n), ": groups ", n.groups, " must be >= 1");
  const int64_t c = x[0];
  if (c % n.groups != 0)
    throw BadInput(node_desc(n), ": input ", shapes, " has ", c, " channels, not divisible by groups ",
                   n.groups);
  if (const Tensor* w = n.tensor("weight")) {
    if (w->shape.size() != 4)
      throw BadInput(node_desc(n), ": weight ", shape_str(w->shape), " must be 4-D {out, in/groups, kh, kw}");
    if (w->shape[1] * n.groups != c)
      throw BadInput(node_desc(n), ": input ", shapes, " has ", c, " channels, expected ",
                     w->shape[1] * n.groups, " (weight ", shape_str(w->shape), ", groups ", n.groups, ")");
    if (w->shape[2] != n.kernel[0] || w->shape[3] != n.kernel[1])
      throw BadInput(node_desc(n), ": weight ", shape_str(w->shape), " disagrees with kernel ",
                     pair_str(n.kernel));
    if (n.out_channels == 0) n.out_channels = w->shape[0];
    if (n.out_channels != w->shape[0])
      throw BadInput(node_desc(n), ": out_channels ", n.out_channels, " disagrees with weight ",
                     shape_str(w->shape));
  }
  if (n.in_channels == 0) n.in_channels = c;
  if (n.in_channels != c)
    throw BadInput(node_desc(n), ": input ", shapes, " has ", c, " channels, expected in_channels ",
                   n.in_channels);
  if (n.out_channels < 1)
    throw BadInput(node_desc(n), ": out_channels is ", n.out_channels, " and there is no weight");
  if (n.out_channels % n.groups != 0)
    throw BadInput(node_desc(n), ": out_channels ", n.out_channels, " is not divisible by groups ", n.groups);
  check_bias(n, n.out_channels);
  return {n.out_channels, window_out(n, 0, x[1], false, shapes), window_out(n, 1, x[2], false, shapes)};
}

Shape infer_linear(Node& n, const Shape& x, const std::string& shapes) {
  if (x.size() != 1)
    throw BadInput(node_desc(n), ": input ", shapes, " must be 1-D {features} (add a Flatten before it)");
  if (const Tensor* w = n.tensor("weight")) {
    if (w->shape.size() != 2)
      throw BadInput(node_desc(n), ": weight ", shape_str(w->shape), " must be 2-D {out, in}");
    if (w->shape[1] != x[0])
      throw BadInput(node_desc(n), ": input ", shapes, " has ", x[0], " features, expected ", w->shape[1],
                     " (weight ", shape_str(w->shape), ")");
    if (n.out_channels == 0) n.out_channels = w->shape[0];
    if (n.out_channels != w->shape[0])
      throw BadInput(node_desc(n), ": out_channels ", n.out_channels, " disagrees with weight ",
                     shape_str(w->shape));
  }
  if (n.in_channels == 0) n.in_channels = x[0];
  if (n.in_channels != x[0])
    throw BadInput(node_desc(n), ": input ", shapes, " has ", x[0], " features, expected in_channels ",
                   n.in_channels);
  if (n.out_channels < 1)
    throw BadInput(node_desc(n), ": out_channels is ", n.out_channels, " and there is no weight");
  check_bias(n, n.out_channels);
  return {n.out_channels};
}

Shape infer_node(Node& n, const std::vector<const Shape*>& in) {
  const std::string shapes = input_shapes_str(in);
  auto want_inputs = [&](size_t lo, size_t hi) {
    if (in.size() < lo || in.size() > hi) {
      if (lo == hi)
        throw BadInput(node_desc(n), ": has ", in.size(), " inputs, expected ", lo);
      throw BadInput(node_desc(n), ": has ", in.size(), " inputs, expected at least ", lo);
    }
  };
  switch (n.op) {
    case Op::Conv2d:
      want_inputs(1, 1);
      return infer_conv(n, *in[0], shapes);
    case Op::Linear:
      want_inputs(1, 1);
      return infer_linear(n, *in[0], shapes);
    case Op::BatchNorm: {
      want_inputs(1, 1);
      if (in[0]->empty()) throw BadInput(node_desc(n), ": input ", shapes, " has no channel dimension");
      int64_t c = (*in[0])[0];
      for (const char* k : {"weight", "bias", "running_mean", "running_var"}) check_vector_tensor(n, k, c);
      if (!(n.eps >= 0.0f)) throw BadInput(node_desc(n), ": eps ", n.eps, " must be >= 0");
      return *in[0];
    }
    case Op::ReLU:
    case Op::ReLU6:
    case Op::LeakyReLU:
    case Op::Sigmoid:
    case Op::Tanh:
    case Op::Identity:
      want_inputs(1, 1);
      return *in[0];
    case Op::Softmax:
      want_inputs(1, 1);
      normalize_axis(n, n.axis, in[0]->size(), shapes);
      return *in[0];
    case Op::MaxPool:
    case Op::AvgPool: {
      want_inputs(1, 1);
      const Shape& x = *in[0];
      if (x.size() != 3) throw BadInput(node_desc(n), ": input ", shapes, " must be 3-D {C, H, W}");
      check_window(n);
      return {x[0], window_out(n, 0, x[1], n.ceil_mode, shapes), window_out(n, 1, x[2], n.ceil_mode, shapes)};
    }
    case Op::GlobalAvgPool:
      want_inputs(1, 1);
      if (in[0]->size() != 3) throw BadInput(node_desc(n), ": input ", shapes, " must be 3-D {C, H, W}");
      if ((*in[0])[1] < 1 || (*in[0])[2] < 1)
        throw BadInput(node_desc(n), ": input ", shapes, " has an empty spatial extent");
      return {(*in[0])[0], 1, 1};
    case Op::Add:
      want_inputs(2, SIZE_MAX);
      for (const Shape* s : in)
        if (*s != *in[0])
          throw BadInput(node_desc(n), ": input shapes ", shapes, " differ, expected all equal (no broadcasting)");
      return *in[0];
    case Op::Concat: {
      want_inputs(1, SIZE_MAX);
      const size_t rank = in[0]->size();
      for (const Shape* s : in)
        if (s->size() != rank)
          throw BadInput(node_desc(n), ": input shapes ", shapes, " have different ranks");
      int64_t d = normalize_axis(n, n.axis, rank, shapes);
      Shape out = *in[0];
      out[d] = 0;
      for (const Shape* s : in) {
        for (size_t i = 0; i < rank; ++i)
          if (static_cast<int64_t>(i) != d && (*s)[i] != (*in[0])[i])
            throw BadInput(node_desc(n), ": input shapes ", shapes, " differ outside concat axis ", n.axis,
                           " (expected equal dims except dim ", d, " of the batch-less shape)");
        out[d] += (*s)[d];
      }
      return out;
    }
    case Op::Flatten:
      want_inputs(1, 1);
      if (n.axis != 1)
        throw BadInput(node_desc(n), ": axis ", n.axis, " is not supported, expected 1 (flatten all but batch)");
      return {numel(*in[0])};
    case Op::Reshape: {
      want_inputs(1, 1);
      const int64_t total = numel(*in[0]);
      Shape out = n.target_shape;
      int64_t known = 1, free_dim = -1;
      if (out.empty()) throw BadInput(node_desc(n), ": target_shape is empty");
      for (size_t i = 0; i < out.size(); ++i) {
        if (out[i] == -1) {
          if (free_dim >= 0)
            throw BadInput(node_desc(n), ": target_shape ", shape_str(out), " has more than one -1");
          free_dim = static_cast<int64_t>(i);
        } else if (out[i] < 1) {
          throw BadInput(node_desc(n), ": target_shape ", shape_str(out), " has dim ", out[i],
                         ", expected positive dims or one -1");
        } else {
          known *= out[i];
          if (known > total) break;
        }
      }
      if (free_dim >= 0) {
        if (known == 0 || total % known != 0)
          throw BadInput(node_desc(n), ": cannot reshape input ", shapes, " (", total, " elements) to ",
                         shape_str(out));
        out[free_dim] = total / known;
      } else if (known != total) {
        throw BadInput(node_desc(n), ": cannot reshape input ", shapes, " (", total, " elements) to ",
                       shape_str(out), " (", known, " elements)");
      }
      if (numel(out) != total)
        throw BadInput(node_desc(n), ": cannot reshape input ", shapes, " (", total, " elements) to ",
                       shape_str(n.target_shape));
      return out;
    }
  }
  throw InternalError(node_desc(n), ": unknown op ", static_cast<int>(n.op));
}

}  // namespace

const char* op_name(Op op) {
  for (const OpEntry& e : kOps)
    if (e.op == op) return e.name;
  return "?";
}

Op op_from_name(const std::string& s) {
  for (const OpEntry& e : kOps)
    if (s == e.name) return e.op;
  std::string known;
  for (const OpEntry& e : kOps) known += (known.empty() ? "" : ", ") + std::string(e.name);
  throw BadInput("unknown op '", s, "' (expected one of ", known, ")");
}

bool has_weights(Op op) { return op == Op::Conv2d || op == Op::Linear || op == Op::BatchNorm; }

const Tensor* Node::tensor(const std::string& key) const {
  auto it = tensors.find(key);
  return it == tensors.end() ? nullptr : &it->second;
}

Tensor* Node::tensor(const std::string& key) {
  auto it = tensors.find(key);
  return it == tensors.end() ? nullptr : &it->second;
}

const Node* Graph::find(const std::string& name) const {
  for (const Node& n : nodes)
    if (n.name == name) return &n;
  return nullptr;
}

Node* Graph::find(const std::string& name) {
  for (Node& n : nodes)
    if (n.name == name) return &n;
  return nullptr;
}

const Node& Graph::at(const std::string& name) const {
  if (const Node* n = find(name)) return *n;
  throw BadInput("no node named '", name, "' in the graph");
}

Node& Graph::at(const std::string& name) {
  if (Node* n = find(name)) return *n;
  throw BadInput("no node named '", name, "' in the graph");
}

Node& Graph::add(Node n) {
  if (n.name.empty()) throw BadInput("cannot add a ", op_name(n.op), " node with an empty name");
  if (n.name == kInput) throw BadInput("node name '", n.name, "' is reserved for the graph input");
  if (find(n.name)) throw BadInput("duplicate node name '", n.name, "'");
  nodes.push_back(std::move(n));
  return nodes.back();
}

void Graph::remove(const std::string& name) {
  auto it = std::find_if(nodes.begin(), nodes.end(), [&](const Node& n) { return n.name == name; });
  if (it == nodes.end()) throw BadInput("cannot remove node '", name, "': no such node");
  auto users = consumers(name);
  if (!users.empty())
    throw BadInput("cannot remove node '", name, "': still consumed by '", users.front(), "'");
  if (std::find(outputs.begin(), outputs.end(), name) != outputs.end())
    throw BadInput("cannot remove node '", name, "': it is a graph output");
  nodes.erase(it);
}

// The node named `to` itself is skipped, so inserting a node after `from` and calling
// replace_uses(from, new_node) never makes the new node consume itself.
void Graph::replace_uses(const std::string& from, const std::string& to) {
  for (Node& n : nodes) {
    if (n.name == to) continue;
    for (std::string& in : n.inputs)
      if (in == from) in = to;
  }
  for (std::string& o : outputs)
    if (o == from) o = to;
}

std::vector<std::string> Graph::consumers(const std::string& name) const {
  std::vector<std::string> out;
  for (const Node& n : nodes)
    if (std::find(n.inputs.begin(), n.inputs.end(), name) != n.inputs.end()) out.push_back(n.name);
  return out;
}

const Shape& Graph::shape_of(const std::string& name) const {
  if (name == kInput) return meta.input_shape;
  return at(name).shape;
}

void Graph::validate() {
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (n.name.empty()) throw BadInput("node #", i, " (", op_name(n.op), ") has an empty name");
    if (n.name == kInput) throw BadInput("node name '", n.name, "' is reserved for the graph input");
    if (!index.emplace(n.name, i).second) throw BadInput("duplicate node name '", n.name, "'");
  }
  // Producers of every node (indices); kInput has none.
  std::vector<std::vector<size_t>> producers(nodes.size());
  std::vector<std::vector<size_t>> users(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (n.inputs.empty()) throw BadInput(node_desc(n), ": has no inputs");
    for (const std::string& in : n.inputs) {
      if (in == kInput) continue;
      auto it = index.find(in);
      if (it == index.end()) throw BadInput(node_desc(n), ": input '", in, "' is not defined");
      producers[i].push_back(it->second);
      users[it->second].push_back(i);
    }
  }
  // Stable Kahn sort: among ready nodes, the earliest in the current order goes first.
  std::vector<size_t> pending(nodes.size());
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
  for (size_t i = 0; i < nodes.size(); ++i) {
    pending[i] = producers[i].size();
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<size_t> order;
  order.reserve(nodes.size());
  while (!ready.empty()) {
    size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (size_t u : users[i])
      if (--pending[u] == 0) ready.push(u);
  }
  if (order.size() != nodes.size()) {
    // Walk unresolved producers from an unsorted node until a node repeats: that is a cycle.
    size_t cur = 0;
    while (pending[cur] == 0) ++cur;
    std::vector<size_t> path;
    std::vector<int> seen_at(nodes.size(), -1);
    while (seen_at[cur] < 0) {
      seen_at[cur] = static_cast<int>(path.size());
      path.push_back(cur);
      for (size_t p : producers[cur])
        if (pending[p] != 0) {
          cur = p;
          break;
        }
    }
    // path runs against the data flow and path[seen_at[cur]] == cur: print it reversed.
    std::string cycle = "'" + nodes[cur].name + "'";
    for (size_t k = path.size(); k-- > static_cast<size_t>(seen_at[cur]);) cycle += " -> '" + nodes[path[k]].name + "'";
    throw BadInput("the graph has a cycle through node '", nodes[cur].name, "': ", cycle);
  }
  if (outputs.empty()) throw BadInput("the graph has no outputs");
  for (const std::string& o : outputs)
    if (!index.count(o)) throw BadInput("graph output '", o, "' is not a node");
  bool sorted = true;
  for (size_t i = 0; i < order.size(); ++i) sorted = sorted && order[i] == i;
  if (!sorted) {
    std::vector<Node> re;
    re.reserve(nodes.size());
    for (size_t i : order) re.push_back(std::move(nodes[i]));
    nodes = std::move(re);
  }
}

void Graph::infer_shapes() {
  validate();
  if (meta.input_shape.empty()) throw BadInput("the graph's input shape (metadata input_shape) is not set");
  for (int64_t d : meta.input_shape)
    if (d < 1) throw BadInput("graph input shape ", shape_str(meta.input_shape), " has a dim < 1");
  std::unordered_map<std::string, const Shape*> known;
  known[kInput] = &meta.input_shape;
  for (Node& n : nodes) {
    std::vector<const Shape*> in;
    for (const std::string& i : n.inputs) in.push_back(known.at(i));
    n.shape = infer_node(n, in);
    known[n.name] = &n.shape;
  }
}

int64_t Graph::param_count() const {
  int64_t total = 0;
  for (const Node& n : nodes) {
    if (!has_weights(n.op)) continue;
    for (const char* k : {"weight", "bias", "running_mean", "running_var"}) {
      if (n.op != Op::BatchNorm && std::string(k).rfind("running", 0) == 0) continue;
      if (const Tensor* t = n.tensor(k)) total += t->numel();
    }
  }
  return total;
}

}  // namespace shrink::ir
