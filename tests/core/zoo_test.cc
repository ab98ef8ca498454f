// Zoo: parameter counts, structure, shapes, MACs, seeding.
#include "compress/zoo.h"

#include <gtest/gtest.h>

#include <iostream>

#include "compress/executor.h"
#include "compress/ir/analyzer.h"
#include "compress/ir/error.h"

namespace shrink {
namespace {

int64_t count_params(const ir::Graph& g) {
  int64_t n = 0;
  for (const auto& node : g.nodes)
    for (const auto& [key, t] : node.tensors) n += t.numel();
  return n;
}

// Multiply-accumulates of Conv2d and Linear nodes, from the inferred output shapes.
int64_t count_macs(const ir::Graph& g) {
  int64_t macs = 0;
  for (const auto& n : g.nodes) {
    if (n.op != ir::Op::Conv2d && n.op != ir::Op::Linear) continue;
    const ir::Shape& w = n.tensors.at("weight").shape;
    int64_t per_output = 1;
    for (size_t i = 1; i < w.size(); ++i) per_output *= w[i];
    macs += ir::numel(n.shape) * per_output;
  }
  return macs;
}

int count_op(const ir::Graph& g, ir::Op op) {
  int c = 0;
  for (const auto& n : g.nodes) c += n.op == op;
  return c;
}

TEST(ZooTest, LeNetParameterCounts) {
  ir::Graph l5 = zoo::make("lenet5", {});
  EXPECT_EQ(count_params(l5), 431080);
  EXPECT_EQ(l5.param_count(), 431080);
  EXPECT_EQ(count_macs(l5), 2293000);
  EXPECT_EQ(l5.at("fc1").tensors.at("weight").shape, (ir::Shape{500, 800}));
  ir::Graph l3 = zoo::make("lenet300", {});
  EXPECT_EQ(count_params(l3), 266610);
  EXPECT_EQ(l3.meta.input_shape, (ir::Shape{1, 28, 28}));
  EXPECT_TRUE(l3.meta.labels.empty());
  EXPECT_EQ(l3.meta.producer, std::string("shrink ") + SHRINK_VERSION);
}

TEST(ZooTest, MobileNetV2Structure) {
  ir::Graph g = zoo::make("mobilenetv2", {});
  EXPECT_EQ(count_op(g, ir::Op::Add), 10);
  EXPECT_EQ(g.at(g.outputs.at(0)).shape, (ir::Shape{10}));
  EXPECT_EQ(g.at("conv1").out_channels, 16);        // 32 * 0.5
  EXPECT_EQ(g.at("conv_last").out_channels, 1280);  // not scaled below 1280
  EXPECT_EQ(g.at("block2.project").out_channels, 16);  // 24 * 0.5 -> 12 -> 16
  EXPECT_EQ(g.at("block3.dw").groups, 96);
  EXPECT_EQ(g.find("block1.expand"), nullptr);
  EXPECT_NE(g.find("block3.add"), nullptr);
  EXPECT_EQ(g.at("block3.add").shape, (ir::Shape{16, 28, 28}));
  EXPECT_EQ(g.at("conv_last").shape, (ir::Shape{1280, 4, 4}));
  int64_t macs = count_macs(g);
  ir::Analysis a = ir::analyze(g, {});
  std::cout << "mobilenetv2 (width 0.5, 28x28): " << count_params(g) << " params, " << macs
            << " conv/linear MACs (analyzer: " << a.macs << ")\n";
  EXPECT_EQ(a.macs, macs);
  EXPECT_GE(macs, 10'000'000);
  EXPECT_LE(macs, 30'000'000);

  Executor ex(g);
  torch::Tensor y = ex.forward(torch::rand({2, 1, 28, 28}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 10}));
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
}

TEST(ZooTest, ResNet8Runs) {
  ir::Graph small = zoo::make("resnet8", {});
  // Weights: conv1 144; block1 2 x 2,304; block2 4,608 + 9,216 + 512 (shortcut); block3
  // 18,432 + 36,864 + 2,048 (shortcut); fc 650. BatchNorm: 4 tensors x 336 channels in all.
  EXPECT_EQ(count_params(small), 144 + 4608 + 4608 + 9216 + 512 + 18432 + 36864 + 2048 + 650 + 4 * 336);
  EXPECT_EQ(count_macs(small), 9345920);
  zoo::ZooOptions o;
  o.input_shape = {3, 32, 32};
  o.num_classes = 7;
  ir::Graph g = zoo::make("resnet8", o);
  EXPECT_EQ(count_op(g, ir::Op::Add), 3);
  EXPECT_EQ(g.find("block1.shortcut"), nullptr);
  EXPECT_NE(g.find("block2.shortcut"), nullptr);
  EXPECT_EQ(g.at("block3.relu").shape, (ir::Shape{64, 8, 8}));
  Executor ex(g);
  ex.set_training(true);
  torch::Tensor y = ex.forward(torch::rand({3, 3, 32, 32}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{3, 7}));
  y.sum().backward();
  EXPECT_GT(ex.tensor("conv1", "weight").grad().abs().sum().item<float>(), 0.0f);
}

TEST(ZooTest, SameSeedSameWeightsOtherSeedOther) {
  for (const std::string& name : zoo::names()) {
    SCOPED_TRACE(name);
    zoo::ZooOptions a, b;
    a.seed = b.seed = 5;
    ir::Graph g1 = zoo::make(name, a), g2 = zoo::make(name, b);
    b.seed = 6;
    ir::Graph g3 = zoo::make(name, b);
    ASSERT_EQ(g1.nodes.size(), g3.nodes.size());
    bool all_same = true, any_diff = false;
    for (size_t i = 0; i < g1.nodes.size(); ++i)
      for (const auto& [key, t] : g1.nodes[i].tensors) {
        all_same = all_same && t == g2.nodes[i].tensors.at(key);
        if (key == "weight" && g1.nodes[i].op != ir::Op::BatchNorm)
          any_diff = any_diff || !(t == g3.nodes[i].tensors.at(key));
      }
    EXPECT_TRUE(all_same);
    EXPECT_TRUE(any_diff);
  }
}

TEST(ZooTest, DefaultInitialisationBounds) {
  ir::Graph g = zoo::make("lenet5", {});
  const ir::Tensor& w = g.at("conv2").tensors.at("weight");  // fan_in 20 * 25 = 500
  float lo = 1, hi = -1;
  for (float v : w.data) lo = std::min(lo, v), hi = std::max(hi, v);
  const float bound = 1.0f / std::sqrt(500.0f);
  EXPECT_GE(lo, -bound);
  EXPECT_LE(hi, bound);
  EXPECT_LT(lo, -0.9f * bound);  // uniform over the whole range
  EXPECT_GT(hi, 0.9f * bound);
}

TEST(ZooTest, UnknownModelIsBadInput) {
  try {
    zoo::make("vgg", {});
    FAIL() << "no exception";
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("unknown zoo model 'vgg'"), std::string::npos);
  }
  zoo::ZooOptions o;
  o.input_shape = {1, 8, 8};
  EXPECT_THROW(zoo::make("lenet5", o), BadInput);
}

}  // namespace
}  // namespace shrink
