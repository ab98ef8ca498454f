// The graph IR: a small DAG of named single-output nodes with fp32 weights and room for the
// compression state that passes fill in. No LibTorch.
//
//   ir::Graph g;  g.meta.input_shape = {1, 28, 28};
//   ir::Node c;  c.name = "conv1"; c.op = ir::Op::Conv2d; c.inputs = {ir::Graph::kInput};
//   c.out_channels = 20; c.kernel = {5, 5}; c.tensors["weight"] = ir::Tensor({20, 1, 5, 5});
//   g.add(std::move(c));  g.outputs = {"conv1"};  g.infer_shapes();
//
// Conventions (contracts every part relies on):
// - Shapes exclude the batch dimension: an image tensor is {C, H, W}, a vector {F}.
// - `nodes` is kept in topological order; a node's inputs name earlier nodes or kInput.
// - Conv2d weight {out, in/groups, kh, kw}, bias {out}. Linear weight {out, in}, bias {out}.
//   BatchNorm tensors "weight" (gamma), "bias" (beta), "running_mean", "running_var".
// - `axis` counts the batch dimension as axis 0 (ONNX convention): Concat on channels is 1.
#pragma once
#include <array>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compress/ir/tensor.h"

namespace shrink::ir {

/// Operators. Append only: the order is stored in files.
enum class Op {
  Conv2d, Linear, BatchNorm, ReLU, ReLU6, LeakyReLU, Sigmoid, Tanh, MaxPool, AvgPool,
  GlobalAvgPool, Add, Concat, Flatten, Reshape, Softmax, Identity,
};

const char* op_name(Op op);              ///< "Conv2d", ...
Op op_from_name(const std::string& s);   ///< throws BadInput naming the unknown op
/// Ops that carry weights (Conv2d, Linear, BatchNorm).
bool has_weights(Op op);

struct Node {
  std::string name;
  Op op = Op::Identity;
  std::vector<std::string> inputs;  ///< producer node names or Graph::kInput

  // Conv2d / Linear: out_channels = output channels / out_features; in_channels likewise.
  int64_t out_channels = 0;
  int64_t in_channels = 0;
  int64_t groups = 1;
  bool has_bias = true;
  // Conv2d and pooling windows.
  std::array<int64_t, 2> kernel{1, 1};
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> dilation{1, 1};
  std::array<int64_t, 4> pads{0, 0, 0, 0};  ///< top, left, bottom, right
  bool ceil_mode = false;
  bool count_include_pad = false;  ///< AvgPool
  float alpha = 0.01f;             ///< LeakyReLU negative slope
  float eps = 1e-5f;               ///< BatchNorm
  int64_t axis = 1;                ///< Concat, Flatten, Softmax (batch is axis 0)
  Shape target_shape;              ///< Reshape, without batch; one dim may be -1

  /// Named tensors: "weight", "bias", BatchNorm statistics; passes add more ("weight_mask", ...).
  std::map<std::string, Tensor> tensors;
  /// Compression state written by passes (Q-formats, codebook settings, ...). Saved with the graph.
  nlohmann::json state = nlohmann::json::object();

  /// Output shape without batch, filled by Graph::infer_shapes().
  Shape shape;

  const Tensor* tensor(const std::string& key) const;
  Tensor* tensor(const std::string& key);
};

struct Metadata {
  std::string name;
  Shape input_shape;               ///< {C, H, W} or {F}, without batch
  std::vector<float> mean;         ///< per input channel; empty = 0. x_model = (x - mean) / std
  std::vector<float> std;          ///< per input channel; empty = 1
  std::vector<std::string> labels; ///< class names, may be empty
  std::string producer;            ///< tool and version that wrote the model
};

class Graph {
 public:
  static constexpr const char* kInput = "input";

  Metadata meta;
  std::vector<Node> nodes;           ///< topological order
  std::vector<std::string> outputs;  ///< names of output nodes (usually one)
  /// Graph-wide compression state written by passes (e.g. the input's Q-format). Saved.
  nlohmann::json state = nlohmann::json::object();

  const Node* find(const std::string& name) const;
  Node* find(const std::string& name);
  /// Throws BadInput("no node named ...") if absent.
  const Node& at(const std::string& name) const;
  Node& at(const std::string& name);
  /// Appends a node; throws BadInput on an empty or duplicate name or the reserved kInput.
  Node& add(Node n);
  /// Removes a node that nothing consumes any more (throws otherwise).
  void remove(const std::string& name);
  /// Replaces every use of `from` as an input (and in outputs) by `to`.
  void replace_uses(const std::string& from, const std::string& to);
  /// Names of the nodes that take `name` as an input, in graph order.
  std::vector<std::string> consumers(const std::string& name) const;
  /// Shape of a node's output or of kInput.
  const Shape& shape_of(const std::string& name) const;

  /// Checks names unique, inputs defined (no dangling input), no cycle, outputs defined,
  /// and re-sorts `nodes` topologically if needed. Throws BadInput naming the node.
  void validate();
  /// Validates, then computes every node's `shape` from meta.input_shape and the weights.
  /// Throws BadInput naming the node, its input shapes and what was expected.
  void infer_shapes();

  /// Total number of weight elements ("weight" and "bias" of Conv2d / Linear, BatchNorm's 4).
  int64_t param_count() const;
};

}  // namespace shrink::ir
