// fold_batchnorm and batchnorm_to_conv (compress/ir/passes.h) preserve eval-mode outputs of
// executed models.
#include <gtest/gtest.h>

#include "compress/executor.h"
#include "compress/ir/passes.h"
#include "compress/zoo.h"

namespace shrink {
namespace {

constexpr double kFoldTol = 1e-5;

int count_bn(const ir::Graph& g) {
  int c = 0;
  for (const auto& n : g.nodes) c += n.op == ir::Op::BatchNorm;
  return c;
}

// Runs a few train-mode batches so that running statistics are not the initial 0 / 1, and
// gives gamma / beta non-default values; returns the synced graph.
ir::Graph with_real_statistics(const std::string& model) {
  torch::manual_seed(21);
  Executor ex(zoo::make(model, {}));
  {
    torch::NoGradGuard no_grad;
    for (const auto& [name, t] : ex.named_parameters())
      if (ex.graph().at(name.substr(0, name.find('/'))).op == ir::Op::BatchNorm)
        t.copy_(t + 0.2 * torch::randn_like(t));
  }
  ex.set_training(true);
  for (int i = 0; i < 8; ++i) ex.forward(torch::rand({8, 1, 28, 28}) * (1 + 0.1 * i));
  return ex.sync_to_graph();
}

TEST(FoldBatchNormTest, MobileNetV2EvalOutputsUnchanged) {
  ir::Graph g = with_real_statistics("mobilenetv2");
  const int bns = count_bn(g);
  ASSERT_EQ(bns, 52);
  const ir::Node& bn = g.at("block3.dw.bn");
  EXPECT_NE(bn.tensors.at("running_mean").data[0], 0.0f);
  EXPECT_NE(bn.tensors.at("running_var").data[0], 1.0f);

  ir::Graph folded = g;
  EXPECT_EQ(ir::fold_batchnorm(folded), bns);
  EXPECT_EQ(count_bn(folded), 0);
  torch::Tensor x = torch::rand({4, 1, 28, 28});
  Executor a(g), b(folded);
  torch::Tensor ya = a.forward(x), yb = b.forward(x);
  double scale = ya.abs().max().item<double>();
  std::cout << "mobilenetv2 logits max |y| " << scale << ", max fold difference "
            << (ya - yb).abs().max().item<double>() << "\n";
  EXPECT_TRUE(torch::allclose(ya, yb, kFoldTol, kFoldTol));
}

TEST(FoldBatchNormTest, ResNet8EvalOutputsUnchanged) {
  ir::Graph g = with_real_statistics("resnet8");
  ir::Graph folded = g;
  EXPECT_EQ(ir::fold_batchnorm(folded), count_bn(g));
  torch::Tensor x = torch::rand({4, 1, 28, 28});
  Executor a(g), b(folded);
  EXPECT_TRUE(torch::allclose(a.forward(x), b.forward(x), kFoldTol, kFoldTol));
}

// Without folding first, every BatchNorm of MobileNetV2 becomes a depthwise 1x1 Conv2d (what the
// .shr writer does with the BatchNorms it cannot fold) and the outputs stay the same.
TEST(FoldBatchNormTest, BatchNormToDepthwiseConvEvalOutputsUnchanged) {
  ir::Graph g = with_real_statistics("mobilenetv2");
  ir::Graph conv = g;
  EXPECT_EQ(ir::batchnorm_to_conv(conv), 52);
  EXPECT_EQ(count_bn(conv), 0);
  const ir::Node& n = conv.at("block3.dw.bn");
  EXPECT_EQ(n.op, ir::Op::Conv2d);
  EXPECT_EQ(n.groups, n.out_channels);
  EXPECT_EQ(n.tensors.at("weight").shape, (ir::Shape{n.out_channels, 1, 1, 1}));
  torch::Tensor x = torch::rand({4, 1, 28, 28});
  Executor a(g), b(conv);
  EXPECT_TRUE(torch::allclose(a.forward(x), b.forward(x), kFoldTol, kFoldTol));
}

}  // namespace
}  // namespace shrink
