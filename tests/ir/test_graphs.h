// Small graphs for tests, weights filled deterministically from a seed (no LibTorch).
//
//   ir::Graph g = shrink::test::make_test_lenet5();      // shapes inferred
//   ir::Graph r = shrink::test::make_test_resblock();    // conv+BN+relu+add+concat+pool
//
// The fill is a splitmix64 stream mapped to uniform floats, so the same seed gives the same
// weights on every machine and compiler.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "compress/ir/graph.h"

namespace shrink::test {

/// Deterministic uniform numbers in [lo, hi) from a seed (splitmix64).
class TestRng {
 public:
  explicit TestRng(uint64_t seed) : state_(seed) {}
  uint64_t next_u64() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1) with 24 random bits (exact in float).
  double uniform() { return static_cast<double>(next_u64() >> 40) / 16777216.0; }
  float uniform(float lo, float hi) { return static_cast<float>(lo + (hi - lo) * uniform()); }

 private:
  uint64_t state_;
};

/// Fills every element of `t` uniformly in [lo, hi).
inline void fill_uniform(ir::Tensor& t, TestRng& rng, float lo, float hi) {
  for (float& v : t.data) v = rng.uniform(lo, hi);
}

/// A tensor of `shape` filled uniformly in [lo, hi).
inline ir::Tensor random_tensor(const ir::Shape& shape, TestRng& rng, float lo = -1.0f, float hi = 1.0f) {
  ir::Tensor t(shape);
  fill_uniform(t, rng, lo, hi);
  return t;
}

/// Conv2d node, weight ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), square kernel, symmetric pad.
inline ir::Node test_conv(const std::string& name, const std::string& input, int64_t in, int64_t out,
                          int64_t k, TestRng& rng, int64_t stride = 1, int64_t pad = 0,
                          int64_t groups = 1, bool bias = true) {
  ir::Node n;
  n.name = name;
  n.op = ir::Op::Conv2d;
  n.inputs = {input};
  n.in_channels = in;
  n.out_channels = out;
  n.groups = groups;
  n.kernel = {k, k};
  n.stride = {stride, stride};
  n.pads = {pad, pad, pad, pad};
  n.has_bias = bias;
  const float b = 1.0f / std::sqrt(static_cast<float>(in / groups * k * k));
  n.tensors["weight"] = random_tensor({out, in / groups, k, k}, rng, -b, b);
  if (bias) n.tensors["bias"] = random_tensor({out}, rng, -b, b);
  return n;
}

/// Linear node, weight ~ U(-1/sqrt(in), 1/sqrt(in)).
inline ir::Node test_linear(const std::string& name, const std::string& input, int64_t in, int64_t out,
                            TestRng& rng, bool bias = true) {
  ir::Node n;
  n.name = name;
  n.op = ir::Op::Linear;
  n.inputs = {input};
  n.in_channels = in;
  n.out_channels = out;
  n.has_bias = bias;
  const float b = 1.0f / std::sqrt(static_cast<float>(in));
  n.tensors["weight"] = random_tensor({out, in}, rng, -b, b);
  if (bias) n.tensors["bias"] = random_tensor({out}, rng, -b, b);
  return n;
}

/// BatchNorm node with non-trivial statistics: gamma in [0.5, 1.5), beta and mean in
/// [-0.5, 0.5), var in [0.25, 2).
inline ir::Node test_batchnorm(const std::string& name, const std::string& input, int64_t c, TestRng& rng) {
  ir::Node n;
  n.name = name;
  n.op = ir::Op::BatchNorm;
  n.inputs = {input};
  n.eps = 1e-5f;
  n.tensors["weight"] = random_tensor({c}, rng, 0.5f, 1.5f);
  n.tensors["bias"] = random_tensor({c}, rng, -0.5f, 0.5f);
  n.tensors["running_mean"] = random_tensor({c}, rng, -0.5f, 0.5f);
  n.tensors["running_var"] = random_tensor({c}, rng, 0.25f, 2.0f);
  return n;
}

/// A weightless node of `op` with the given inputs.
inline ir::Node test_node(const std::string& name, ir::Op op, std::vector<std::string> inputs) {
  ir::Node n;
  n.name = name;
  n.op = op;
  n.inputs = std::move(inputs);
  return n;
}

/// Pooling node, square window, symmetric pad.
inline ir::Node test_pool(const std::string& name, ir::Op op, const std::string& input, int64_t k,
                          int64_t stride, int64_t pad = 0, bool ceil_mode = false) {
  ir::Node n = test_node(name, op, {input});
  n.kernel = {k, k};
  n.stride = {stride, stride};
  n.pads = {pad, pad, pad, pad};
  n.ceil_mode = ceil_mode;
  return n;
}

/// Caffe LeNet-5 on {1, 28, 28}: conv1 20@5x5, maxpool 2x2 s2, conv2 50@5x5, maxpool 2x2 s2,
/// flatten, fc1 800->500, relu, fc2 500->10. Output "fc2" {10}. Shapes inferred.
inline ir::Graph make_test_lenet5(uint64_t seed = 1) {
  TestRng rng(seed);
  ir::Graph g;
  g.meta.name = "lenet5";
  g.meta.input_shape = {1, 28, 28};
  g.meta.mean = {0.2860f};
  g.meta.std = {0.3530f};
  g.meta.labels = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  g.meta.producer = "shrink tests";
  g.add(test_conv("conv1", ir::Graph::kInput, 1, 20, 5, rng));
  g.add(test_pool("pool1", ir::Op::MaxPool, "conv1", 2, 2));
  g.add(test_conv("conv2", "pool1", 20, 50, 5, rng));
  g.add(test_pool("pool2", ir::Op::MaxPool, "conv2", 2, 2));
  g.add(test_node("flatten", ir::Op::Flatten, {"pool2"}));
  g.add(test_linear("fc1", "flatten", 800, 500, rng));
  g.add(test_node("relu1", ir::Op::ReLU, {"fc1"}));
  g.add(test_linear("fc2", "relu1", 500, 10, rng));
  g.outputs = {"fc2"};
  g.infer_shapes();
  return g;
}

/// A small residual graph on {3, 8, 8} using conv, BatchNorm, ReLU, Add, Concat and pooling:
///   conv1 3->8 3x3 p1 (no bias) -> bn1 -> relu1
///   conv2 8->8 3x3 p1 -> bn2 ;  add(bn2, relu1) -> relu2
///   dw 8->8 3x3 p1 groups 8 (depthwise) -> bn3
///   cat = concat(relu2, bn3) on channels (axis 1) -> {16, 8, 8}
///   pool 2x2 s2 (max) -> {16, 4, 4} ; gap -> {16, 1, 1} ; flatten -> fc 16->10 -> softmax
/// Output "softmax" {10}. Shapes inferred.
inline ir::Graph make_test_resblock(uint64_t seed = 2) {
  TestRng rng(seed);
  ir::Graph g;
  g.meta.name = "resblock";
  g.meta.input_shape = {3, 8, 8};
  g.meta.producer = "shrink tests";
  g.add(test_conv("conv1", ir::Graph::kInput, 3, 8, 3, rng, 1, 1, 1, false));
  g.add(test_batchnorm("bn1", "conv1", 8, rng));
  g.add(test_node("relu1", ir::Op::ReLU, {"bn1"}));
  g.add(test_conv("conv2", "relu1", 8, 8, 3, rng, 1, 1));
  g.add(test_batchnorm("bn2", "conv2", 8, rng));
  g.add(test_node("add", ir::Op::Add, {"bn2", "relu1"}));
  g.add(test_node("relu2", ir::Op::ReLU, {"add"}));
  g.add(test_conv("dw", "relu2", 8, 8, 3, rng, 1, 1, 8, true));
  g.add(test_batchnorm("bn3", "dw", 8, rng));
  ir::Node cat = test_node("cat", ir::Op::Concat, {"relu2", "bn3"});
  cat.axis = 1;
  g.add(std::move(cat));
  g.add(test_pool("pool", ir::Op::MaxPool, "cat", 2, 2));
  g.add(test_node("gap", ir::Op::GlobalAvgPool, {"pool"}));
  g.add(test_node("flatten", ir::Op::Flatten, {"gap"}));
  g.add(test_linear("fc", "flatten", 16, 10, rng));
  g.add(test_node("softmax", ir::Op::Softmax, {"fc"}));
  g.outputs = {"softmax"};
  g.infer_shapes();
  return g;
}

}  // namespace shrink::test
