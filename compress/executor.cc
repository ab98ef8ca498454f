// Executor: runs an ir::Graph with LibTorch ops (float32 or float64, CPU), differentiably.
//
// Contracts kept here:
// - One torch tensor per IR tensor, created from the IR at construction (or lazily, for a tensor
//   a pass added to graph() later). Conv2d / Linear weight and bias and BatchNorm gamma / beta
//   require grad; BatchNorm running statistics are buffers updated in place in train mode
//   (momentum 0.1, the node's eps); anything else is a constant.
// - Weight hooks see the tensors an op uses: "weight" and "bias" (Conv2d, Linear, BatchNorm)
//   and, in eval mode only, BatchNorm "running_mean" / "running_var" (in train mode the running
//   statistics are only updated, never read, so they are passed to the op unhooked).
// - Several hooks compose in registration order: the second sees what the first returned.
//   Op hooks replace a node's op; the first one returning a defined tensor wins.
// - Ops run in the dtype they receive: the input is float32 unless passed as float64 (hooks may
//   turn the input and the weights into float64 for exact simulation).
// - Pruning masks are part of the model: a node's "weight_mask" (same shape as "weight")
//   multiplies the weight before the weight hooks (and sync_to_graph stores masked weights as
//   zeros); a node's "out_mask" ({C}) multiplies its output along dim 1 before the output hooks.
// - Padding pads = {top, left, bottom, right}. Symmetric pads go to the torch op; asymmetric
//   ones are applied first with F::pad (zeros for conv and average pooling, -inf for max
//   pooling). Average pooling divides by the cells counted under `count_include_pad`, where
//   the explicit pads count as padding and cells past the padded input (ceil_mode) never count.
#include "compress/executor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "compress/ir/error.h"

namespace shrink {

namespace F = torch::nn::functional;

torch::Tensor to_torch(const ir::Tensor& t) {
  std::vector<int64_t> shape(t.shape.begin(), t.shape.end());
  if (ir::numel(t.shape) != t.numel())
    throw BadInput("tensor of shape ", ir::shape_str(t.shape), " holds ", t.numel(),
                   " values, expected ", ir::numel(t.shape));
  torch::Tensor out = torch::empty(shape, torch::kFloat32);
  if (t.numel() > 0) std::copy(t.data.begin(), t.data.end(), out.data_ptr<float>());
  return out;
}

ir::Tensor from_torch(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  ir::Tensor out;
  out.shape.assign(c.sizes().begin(), c.sizes().end());
  out.data.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  return out;
}

namespace {

bool is_trainable_key(ir::Op op, const std::string& key) {
  switch (op) {
    case ir::Op::Conv2d:
    case ir::Op::Linear:
    case ir::Op::BatchNorm:
      return key == "weight" || key == "bias";
    default:
      return false;
  }
}

std::string node_context(const ir::Node& n) {
  return detail::concat("node '", n.name, "' (", ir::op_name(n.op), ")");
}

void expect_inputs(const ir::Node& n, const std::vector<torch::Tensor>& in, size_t lo, size_t hi) {
  if (in.size() < lo || in.size() > hi)
    throw BadInput(node_context(n), ": has ", in.size(), " inputs, expected ",
                   lo == hi ? std::to_string(lo) : detail::concat(lo, " to ", hi));
}

void expect_rank(const ir::Node& n, const torch::Tensor& x, int64_t rank) {
  if (x.dim() != rank)
    throw BadInput(node_context(n), ": input has shape ", x.sizes(), ", expected ", rank,
                   " dimensions (batch included)");
}

bool symmetric(const std::array<int64_t, 4>& p) { return p[0] == p[2] && p[1] == p[3]; }
bool any_pad(const std::array<int64_t, 4>& p) { return p[0] || p[1] || p[2] || p[3]; }

// Output size of a pooling window along one dim (the IR's rule, as PyTorch): with ceil_mode a
// last window that would start inside the end padding is dropped.
int64_t pool_out(int64_t in, int64_t pb, int64_t pe, int64_t k, int64_t d, int64_t s, bool ceil) {
  int64_t avail = in + pb + pe - (d * (k - 1) + 1);
  int64_t out = (ceil ? (avail + s - 1) / s : avail / s) + 1;
  if (ceil && (out - 1) * s >= in + pb) --out;
  return out;
}

// A pool computed on an explicitly padded input may keep one window too many under ceil_mode.
torch::Tensor crop_pool(const torch::Tensor& y, const torch::Tensor& x, const ir::Node& n) {
  int64_t oh = pool_out(x.size(2), n.pads[0], n.pads[2], n.kernel[0], n.dilation[0], n.stride[0], n.ceil_mode);
  int64_t ow = pool_out(x.size(3), n.pads[1], n.pads[3], n.kernel[1], n.dilation[1], n.stride[1], n.ceil_mode);
  return y.slice(2, 0, oh).slice(3, 0, ow);
}

// F::pad order is {left, right, top, bottom} for the last two dims.
torch::Tensor pad_explicit(const torch::Tensor& x, const std::array<int64_t, 4>& p, double value) {
  return F::pad(x, F::PadFuncOptions({p[1], p[3], p[0], p[2]}).mode(torch::kConstant).value(value));
}

}  // namespace

Executor::Executor(ir::Graph graph) : graph_(std::move(graph)) {
  bool missing = false;
  for (const auto& n : graph_.nodes) missing = missing || n.shape.empty();
  if (missing || graph_.nodes.empty()) graph_.infer_shapes();
  else graph_.validate();
  for (const auto& n : graph_.nodes) {
    for (const auto& [key, t] : n.tensors) {
      bool train = is_trainable_key(n.op, key);
      torch::Tensor tt = to_torch(t);
      if (train) tt.requires_grad_(true);
      tensors_[n.name][key] = tt;
      trainable_[n.name][key] = train;
    }
  }
}

void Executor::set_training(bool on) { training_ = on; }

std::vector<torch::Tensor> Executor::parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> Executor::named_parameters() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& n : graph_.nodes) {
    auto it = tensors_.find(n.name);
    if (it == tensors_.end()) continue;
    const auto& flags = trainable_.at(n.name);
    for (const auto& [key, t] : it->second) {
      auto f = flags.find(key);
      if (f != flags.end() && f->second) out.emplace_back(n.name + "/" + key, t);
    }
  }
  return out;
}

torch::Tensor& Executor::tensor(const std::string& node, const std::string& key) {
  auto it = tensors_.find(node);
  if (it != tensors_.end()) {
    auto jt = it->second.find(key);
    if (jt != it->second.end()) return jt->second;
  }
  // A tensor a pass added to graph() after construction.
  if (const ir::Node* n = graph_.find(node)) {
    if (const ir::Tensor* t = n->tensor(key)) {
      tensors_[node][key] = to_torch(*t);
      trainable_[node][key] = false;
      return tensors_[node][key];
    }
    throw BadInput("executor: node '", node, "' has no tensor '", key, "'");
  }
  throw BadInput("executor: no node named '", node, "' (looking for tensor '", key, "')");
}

void Executor::set_tensor(const std::string& node, const std::string& key, torch::Tensor t,
                          bool trainable) {
  if (!graph_.find(node)) throw BadInput("executor: no node named '", node, "' (setting tensor '", key, "')");
  t = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  if (trainable) t.requires_grad_(true);
  tensors_[node][key] = t;
  trainable_[node][key] = trainable;
}

int Executor::add_hook(NodeHooks hooks, const std::string& node_name) {
  if (!node_name.empty() && node_name != ir::Graph::kInput && !graph_.find(node_name))
    throw BadInput("executor: cannot hook node '", node_name, "': no such node");
  int id = next_hook_id_++;
  hooks_.push_back({id, node_name, std::move(hooks)});
  return id;
}

void Executor::remove_hook(int id) {
  hooks_.erase(std::remove_if(hooks_.begin(), hooks_.end(),
                              [id](const HookEntry& h) { return h.id == id; }),
               hooks_.end());
}

ir::Graph& Executor::sync_to_graph() {
  for (auto& n : graph_.nodes) {
    auto it = tensors_.find(n.name);
    if (it == tensors_.end()) continue;
    for (const auto& [key, t] : it->second) n.tensors[key] = from_torch(t);
    // Pruned weights are stored as zeros (whatever the optimizer did to the hidden values).
    if (const ir::Tensor* m = n.tensor(kWeightMask); m && n.tensor("weight")) {
      ir::Tensor& w = *n.tensor("weight");
      if (m->shape == w.shape)
        for (int64_t i = 0; i < w.numel(); ++i) w.at(i) *= m->at(i);
    }
  }
  return graph_;
}

torch::Tensor Executor::forward(const torch::Tensor& x) {
  return forward_with(x, {}).at("output");
}

std::map<std::string, torch::Tensor> Executor::forward_with(const torch::Tensor& x_in,
                                                            const std::vector<std::string>& names,
                                                            bool with_output) {
  const ir::Shape& in_shape = graph_.meta.input_shape;
  if (graph_.outputs.empty()) throw BadInput("executor: the graph has no outputs");
  if (!x_in.is_floating_point())
    throw BadInput("executor: input has dtype ", x_in.dtype(), ", expected float32");
  bool shape_ok = x_in.dim() == static_cast<int64_t>(in_shape.size()) + 1;
  for (size_t i = 0; shape_ok && i < in_shape.size(); ++i)
    shape_ok = x_in.size(static_cast<int64_t>(i) + 1) == in_shape[i];
  if (!shape_ok)
    throw BadInput("executor: input has shape ", x_in.sizes(), ", expected [N, ",
                   ir::shape_str(in_shape).substr(1));
  std::set<std::string> wanted(names.begin(), names.end());
  for (const auto& w : wanted)
    if (w != ir::Graph::kInput && !graph_.find(w))
      throw BadInput("executor: cannot return the output of '", w, "': no such node");

  // Normalization x' = (x - mean[c]) / std[c], channel = dim 1; one value applies to all.
  torch::Tensor x = x_in.scalar_type() == torch::kFloat64 ? x_in : x_in.to(torch::kFloat32);
  const int64_t channels = in_shape.empty() ? 1 : in_shape[0];
  auto per_channel = [&](const std::vector<float>& v, const char* what) {
    if (v.size() != 1 && static_cast<int64_t>(v.size()) != channels)
      throw BadInput("model metadata: ", what, " has ", v.size(), " values, expected 1 or ", channels,
                     " (one per input channel)");
    std::vector<int64_t> view(static_cast<size_t>(x.dim()), 1);
    if (v.size() > 1) view[1] = channels;
    return torch::tensor(v, torch::kFloat32).to(x.scalar_type()).reshape(view);
  };
  if (!graph_.meta.mean.empty()) x = x - per_channel(graph_.meta.mean, "mean");
  if (!graph_.meta.std.empty()) x = x / per_channel(graph_.meta.std, "std");
  for (const auto& h : hooks_)
    if (h.hooks.input && (h.node.empty() || h.node == ir::Graph::kInput)) x = h.hooks.input(x);

  std::map<std::string, torch::Tensor> values;
  values[ir::Graph::kInput] = x;
  return run_graph(std::move(values), wanted, with_output);
}

std::map<std::string, torch::Tensor> Executor::forward_from(const std::map<std::string, torch::Tensor>& given,
                                                            const std::vector<std::string>& names,
                                                            bool with_output) {
  if (graph_.outputs.empty()) throw BadInput("executor: the graph has no outputs");
  std::set<std::string> wanted(names.begin(), names.end());
  for (const auto& w : wanted)
    if (w != ir::Graph::kInput && !graph_.find(w))
      throw BadInput("executor: cannot return the output of '", w, "': no such node");
  for (const auto& [name, t] : given)
    if (name != ir::Graph::kInput && !graph_.find(name))
      throw BadInput("executor: a value is given for '", name, "': no such node");
  return run_graph(given, wanted, with_output);
}

std::map<std::string, torch::Tensor> Executor::run_graph(std::map<std::string, torch::Tensor> values,
                                                         const std::set<std::string>& wanted, bool with_output) {
  // Which nodes run: those the outputs or the wanted values need, stopping at given values.
  std::set<std::string> needed;
  if (with_output) needed.insert(graph_.outputs.begin(), graph_.outputs.end());
  needed.insert(wanted.begin(), wanted.end());
  for (size_t i = graph_.nodes.size(); i-- > 0;) {
    const ir::Node& n = graph_.nodes[i];
    if (!needed.count(n.name) || values.count(n.name)) continue;
    needed.insert(n.inputs.begin(), n.inputs.end());
  }
  // Liveness: a value is dropped after its last consumer unless it is an output or wanted.
  std::map<std::string, size_t> last_use;
  for (size_t i = 0; i < graph_.nodes.size(); ++i)
    if (needed.count(graph_.nodes[i].name) && !values.count(graph_.nodes[i].name))
      for (const auto& in : graph_.nodes[i].inputs) last_use[in] = i;
  std::set<std::string> keep(graph_.outputs.begin(), graph_.outputs.end());
  keep.insert(wanted.begin(), wanted.end());

  std::map<std::string, torch::Tensor> result;
  for (const auto& w : wanted) {
    auto it = values.find(w);
    if (it != values.end()) result[w] = it->second;
  }
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    const ir::Node& n = graph_.nodes[i];
    if (!needed.count(n.name) || values.count(n.name)) continue;
    std::vector<torch::Tensor> in;
    in.reserve(n.inputs.size());
    for (const auto& name : n.inputs) {
      auto it = values.find(name);
      if (it == values.end())
        throw BadInput("executor: node '", n.name, "' reads '", name, "', which is not computed before it");
      in.push_back(it->second);
    }
    torch::Tensor y;
    for (const auto& h : hooks_) {
      if (h.hooks.op && (h.node.empty() || h.node == n.name)) y = h.hooks.op(n, in);
      if (y.defined()) break;
    }
    if (!y.defined()) y = run_node(n, in);
    if (n.tensor(kOutMask)) {  // structured pruning before thinning: removed channels read as 0
      torch::Tensor m = tensor(n.name, kOutMask).to(y.dtype());
      std::vector<int64_t> shape(static_cast<size_t>(y.dim()), 1);
      shape[1] = m.numel();
      y = y * m.view(shape);
    }
    for (const auto& h : hooks_)
      if (h.hooks.output && (h.node.empty() || h.node == n.name)) y = h.hooks.output(n, y);
    values[n.name] = y;
    if (wanted.count(n.name)) result[n.name] = y;
    for (const auto& name : n.inputs) {
      auto lu = last_use.find(name);
      if (lu != last_use.end() && lu->second == i && !keep.count(name)) values.erase(name);
    }
  }
  if (!with_output) return result;
  auto out = values.find(graph_.outputs[0]);
  if (out == values.end()) throw BadInput("executor: the output '", graph_.outputs[0], "' was not computed");
  result["output"] = out->second;
  return result;
}

torch::Tensor Executor::run_node(const ir::Node& n, const std::vector<torch::Tensor>& in) {
  // The tensor `key` of this node after the weight hooks; undefined if absent and optional.
  auto param = [&](const std::string& key, bool required) -> torch::Tensor {
    auto it = tensors_.find(n.name);
    bool present = (it != tensors_.end() && it->second.count(key)) || n.tensor(key) != nullptr;
    if (!present) {
      if (required) throw BadInput(node_context(n), ": missing tensor '", key, "'");
      return {};
    }
    torch::Tensor t = tensor(n.name, key);
    if (key == "weight" && n.tensor(kWeightMask))  // unstructured pruning: masked weights read as 0
      t = t * tensor(n.name, kWeightMask).to(t.dtype());
    for (const auto& h : hooks_)
      if (h.hooks.weight && (h.node.empty() || h.node == n.name)) t = h.hooks.weight(n, key, t);
    return t;
  };

  switch (n.op) {
    case ir::Op::Conv2d: {
      expect_inputs(n, in, 1, 1);
      expect_rank(n, in[0], 4);
      torch::Tensor w = param("weight", true);
      torch::Tensor b = n.has_bias ? param("bias", false) : torch::Tensor();
      torch::Tensor x = in[0];
      std::vector<int64_t> padding{n.pads[0], n.pads[1]};
      if (!symmetric(n.pads)) {
        x = pad_explicit(x, n.pads, 0.0);
        padding = {0, 0};
      }
      if (x.size(1) != w.size(1) * n.groups)
        throw BadInput(node_context(n), ": input has ", x.size(1), " channels, weight ",
                       w.sizes(), " with groups ", n.groups, " expects ", w.size(1) * n.groups);
      return at::conv2d(x, w, b, {n.stride[0], n.stride[1]}, padding,
                        {n.dilation[0], n.dilation[1]}, n.groups);
    }
    case ir::Op::Linear: {
      expect_inputs(n, in, 1, 1);
      torch::Tensor w = param("weight", true);
      torch::Tensor b = n.has_bias ? param("bias", false) : torch::Tensor();
      if (in[0].dim() < 2 || in[0].size(-1) != w.size(1))
        throw BadInput(node_context(n), ": input has shape ", in[0].sizes(), ", weight ", w.sizes(),
                       " expects ", w.size(1), " features in the last dimension");
      return at::linear(in[0], w, b);
    }
    case ir::Op::BatchNorm: {
      expect_inputs(n, in, 1, 1);
      torch::Tensor gamma = param("weight", false);
      torch::Tensor beta = param("bias", false);
      torch::Tensor mean, var;
      const bool train_stats = training_ && !frozen_.count(n.name);
      if (train_stats) {
        mean = tensor(n.name, "running_mean");
        var = tensor(n.name, "running_var");
      } else {
        mean = param("running_mean", true);
        var = param("running_var", true);
      }
      if (in[0].dim() < 2 || in[0].size(1) != mean.numel())
        throw BadInput(node_context(n), ": input has shape ", in[0].sizes(), ", expected ",
                       mean.numel(), " channels in dimension 1");
      return at::batch_norm(in[0], gamma, beta, mean, var, train_stats, 0.1, n.eps, false);
    }
    case ir::Op::ReLU:
      expect_inputs(n, in, 1, 1);
      return torch::relu(in[0]);
    case ir::Op::ReLU6:
      expect_inputs(n, in, 1, 1);
      return torch::hardtanh(in[0], 0.0, 6.0);
    case ir::Op::LeakyReLU:
      expect_inputs(n, in, 1, 1);
      return torch::leaky_relu(in[0], n.alpha);
    case ir::Op::Sigmoid:
      expect_inputs(n, in, 1, 1);
      return torch::sigmoid(in[0]);
    case ir::Op::Tanh:
      expect_inputs(n, in, 1, 1);
      return torch::tanh(in[0]);
    case ir::Op::MaxPool: {
      expect_inputs(n, in, 1, 1);
      expect_rank(n, in[0], 4);
      torch::Tensor x = in[0];
      std::vector<int64_t> padding{n.pads[0], n.pads[1]};
      // Torch pools accept symmetric pads of at most half the window only.
      bool native = symmetric(n.pads) && n.pads[0] <= n.kernel[0] / 2 && n.pads[1] <= n.kernel[1] / 2;
      if (native)
        return at::max_pool2d(x, {n.kernel[0], n.kernel[1]}, {n.stride[0], n.stride[1]}, padding,
                              {n.dilation[0], n.dilation[1]}, n.ceil_mode);
      x = pad_explicit(x, n.pads, -std::numeric_limits<double>::infinity());
      torch::Tensor y = at::max_pool2d(x, {n.kernel[0], n.kernel[1]}, {n.stride[0], n.stride[1]}, {0, 0},
                                       {n.dilation[0], n.dilation[1]}, n.ceil_mode);
      return crop_pool(y, in[0], n);
    }
    case ir::Op::AvgPool: {
      expect_inputs(n, in, 1, 1);
      expect_rank(n, in[0], 4);
      if (n.dilation[0] != 1 || n.dilation[1] != 1)
        throw BadInput(node_context(n), ": dilation [", n.dilation[0], ", ", n.dilation[1],
                       "] is not supported, expected [1, 1]");
      std::vector<int64_t> k{n.kernel[0], n.kernel[1]}, s{n.stride[0], n.stride[1]};
      bool native = symmetric(n.pads) && n.pads[0] <= n.kernel[0] / 2 && n.pads[1] <= n.kernel[1] / 2;
      if (native || !any_pad(n.pads))
        return at::avg_pool2d(in[0], k, s, {n.pads[0], n.pads[1]}, n.ceil_mode, n.count_include_pad);
      torch::Tensor xp = pad_explicit(in[0], n.pads, 0.0);
      // Mean over the cells inside the padded input (pads included) ...
      torch::Tensor y = at::avg_pool2d(xp, k, s, {0, 0}, n.ceil_mode, false);
      if (n.count_include_pad) return crop_pool(y, in[0], n);
      // ... rescaled to the real cells only: divide by the share of real cells in each window.
      torch::Tensor ones = torch::ones({1, 1, in[0].size(2), in[0].size(3)}, in[0].options());
      torch::Tensor share = at::avg_pool2d(pad_explicit(ones, n.pads, 0.0), k, s, {0, 0}, n.ceil_mode, false);
      return crop_pool(y / share, in[0], n);
    }
    case ir::Op::GlobalAvgPool: {
      expect_inputs(n, in, 1, 1);
      if (in[0].dim() < 3) expect_rank(n, in[0], 4);
      std::vector<int64_t> dims;
      for (int64_t d = 2; d < in[0].dim(); ++d) dims.push_back(d);
      return in[0].mean(dims, /*keepdim=*/true);
    }
    case ir::Op::Add: {
      expect_inputs(n, in, 2, 1u << 20);
      torch::Tensor y = in[0];
      for (size_t i = 1; i < in.size(); ++i) {
        if (in[i].sizes() != in[0].sizes())
          throw BadInput(node_context(n), ": input ", i, " has shape ", in[i].sizes(),
                         ", expected ", in[0].sizes(), " like input 0");
        y = y + in[i];
      }
      return y;
    }
    case ir::Op::Concat: {
      expect_inputs(n, in, 1, 1u << 20);
      int64_t axis = n.axis < 0 ? n.axis + in[0].dim() : n.axis;
      if (axis < 1 || axis >= in[0].dim())
        throw BadInput(node_context(n), ": axis ", n.axis, " is out of range for inputs of shape ",
                       in[0].sizes(), " (the batch axis 0 cannot be concatenated)");
      return torch::cat(in, axis);
    }
    case ir::Op::Flatten: {
      expect_inputs(n, in, 1, 1);
      if (n.axis != 1) throw BadInput(node_context(n), ": axis is ", n.axis, ", expected 1");
      return in[0].flatten(1);
    }
    case ir::Op::Reshape: {
      expect_inputs(n, in, 1, 1);
      std::vector<int64_t> shape{in[0].size(0)};
      shape.insert(shape.end(), n.target_shape.begin(), n.target_shape.end());
      int64_t known = 1, unknown = 0;
      for (size_t i = 1; i < shape.size(); ++i) {
        if (shape[i] == -1) ++unknown;
        else known *= shape[i];
      }
      int64_t per_sample = in[0].numel() / std::max<int64_t>(in[0].size(0), 1);
      if (unknown > 1 || shape.size() < 2 || (unknown == 0 && known != per_sample) ||
          (unknown == 1 && (known == 0 || per_sample % known != 0)))
        throw BadInput(node_context(n), ": cannot reshape input ", in[0].sizes(), " to [N, ",
                       ir::shape_str(n.target_shape).substr(1));
      return in[0].reshape(shape);
    }
    case ir::Op::Softmax: {
      expect_inputs(n, in, 1, 1);
      int64_t axis = n.axis < 0 ? n.axis + in[0].dim() : n.axis;
      if (axis < 1 || axis >= in[0].dim())
        throw BadInput(node_context(n), ": axis ", n.axis, " is out of range for input ", in[0].sizes());
      return torch::softmax(in[0], axis);
    }
    case ir::Op::Identity:
      expect_inputs(n, in, 1, 1);
      return in[0];
  }
  throw InternalError("executor: unhandled op ", static_cast<int>(n.op), " in node '", n.name, "'");
}

}  // namespace shrink
