// Appends layers with PyTorch-default initialisation to an ir::Graph: the zoo builds its models
// with it, the shunt pass its shunt blocks. Weights are drawn from one generator seeded at
// construction, in call order: same seed and calls, same weights.
//
//   ir::Graph g;  g.meta.input_shape = {1, 28, 28};
//   GraphBuilder b(g, /*seed=*/1);
//   std::string x = b.conv("conv1", ir::Graph::kInput, 1, 8, 3, 1, 1, 1, false);
//   x = b.bn("conv1.bn", x, 8);
//   x = b.simple("conv1.relu", ir::Op::ReLU6, {x});
//   g.outputs = {x};  g.infer_shapes();
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "compress/ir/graph.h"

namespace shrink {

class GraphBuilder {
 public:
  GraphBuilder(ir::Graph& g, uint64_t seed);

  /// Kaiming-uniform(a = sqrt(5)) weight and uniform bias: both U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  ir::Tensor uniform(const ir::Shape& shape, int64_t fan_in);
  /// Conv2d with a square kernel k, stride, symmetric padding pad, dilation; returns its name.
  std::string conv(const std::string& name, const std::string& in, int64_t cin, int64_t cout, int64_t k,
                   int64_t stride, int64_t pad, int64_t groups, bool bias, int64_t dilation = 1);
  std::string linear(const std::string& name, const std::string& in, int64_t fin, int64_t fout);
  /// BatchNorm with gamma 1, beta 0, running mean 0 and variance 1.
  std::string bn(const std::string& name, const std::string& in, int64_t c);
  std::string pool(const std::string& name, const std::string& in, ir::Op op, int64_t k, int64_t s);
  /// A node without weights or attributes (ReLU, Add, Flatten, GlobalAvgPool, ...).
  std::string simple(const std::string& name, ir::Op op, std::vector<std::string> inputs);

 private:
  std::string add(ir::Node n);
  ir::Graph& graph_;
  at::Generator gen_;
};

}  // namespace shrink
