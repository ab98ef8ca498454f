#include "compress/graph_builder.h"

#include <cmath>

#include "compress/executor.h"

namespace shrink {

GraphBuilder::GraphBuilder(ir::Graph& g, uint64_t seed) : graph_(g), gen_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}

ir::Tensor GraphBuilder::uniform(const ir::Shape& shape, int64_t fan_in) {
  double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  torch::Tensor t = torch::empty(std::vector<int64_t>(shape.begin(), shape.end()), torch::kFloat32);
  t.uniform_(-bound, bound, gen_);
  return from_torch(t);
}

std::string GraphBuilder::conv(const std::string& name, const std::string& in, int64_t cin, int64_t cout, int64_t k,
                               int64_t stride, int64_t pad, int64_t groups, bool bias, int64_t dilation) {
  ir::Node n;
  n.name = name;
  n.op = ir::Op::Conv2d;
  n.inputs = {in};
  n.in_channels = cin;
  n.out_channels = cout;
  n.groups = groups;
  n.kernel = {k, k};
  n.stride = {stride, stride};
  n.dilation = {dilation, dilation};
  n.pads = {pad, pad, pad, pad};
  n.has_bias = bias;
  int64_t fan_in = cin / groups * k * k;
  n.tensors["weight"] = uniform({cout, cin / groups, k, k}, fan_in);
  if (bias) n.tensors["bias"] = uniform({cout}, fan_in);
  return add(std::move(n));
}

std::string GraphBuilder::linear(const std::string& name, const std::string& in, int64_t fin, int64_t fout) {
  ir::Node n;
  n.name = name;
  n.op = ir::Op::Linear;
  n.inputs = {in};
  n.in_channels = fin;
  n.out_channels = fout;
  n.tensors["weight"] = uniform({fout, fin}, fin);
  n.tensors["bias"] = uniform({fout}, fin);
  return add(std::move(n));
}

std::string GraphBuilder::bn(const std::string& name, const std::string& in, int64_t c) {
  ir::Node n;
  n.name = name;
  n.op = ir::Op::BatchNorm;
  n.inputs = {in};
  n.in_channels = c;
  n.out_channels = c;
  n.tensors["weight"] = ir::Tensor({c}, std::vector<float>(static_cast<size_t>(c), 1.0f));
  n.tensors["bias"] = ir::Tensor({c});
  n.tensors["running_mean"] = ir::Tensor({c});
  n.tensors["running_var"] = ir::Tensor({c}, std::vector<float>(static_cast<size_t>(c), 1.0f));
  return add(std::move(n));
}

std::string GraphBuilder::pool(const std::string& name, const std::string& in, ir::Op op, int64_t k, int64_t s) {
  ir::Node n;
  n.name = name;
  n.op = op;
  n.inputs = {in};
  n.kernel = {k, k};
  n.stride = {s, s};
  return add(std::move(n));
}

std::string GraphBuilder::simple(const std::string& name, ir::Op op, std::vector<std::string> inputs) {
  ir::Node n;
  n.name = name;
  n.op = op;
  n.inputs = std::move(inputs);
  return add(std::move(n));
}

std::string GraphBuilder::add(ir::Node n) {
  std::string name = n.name;
  graph_.add(std::move(n));
  return name;
}

}  // namespace shrink
