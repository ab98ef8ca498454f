// Passes: BatchNorm folding checked against a naive double-precision evaluator of the graph
// before and after the fold; Identity removal.
#include "compress/ir/passes.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "compress/ir/error.h"
#include "tests/ir/test_graphs.h"

namespace shrink::ir {
namespace {

constexpr double kFoldTolerance = 1e-5;  // |folded - unfolded| per output element

using shrink::test::TestRng;

// A value of the reference evaluator: batch-less shape and double data, row-major.
struct Value {
  Shape shape;
  std::vector<double> data;
};

// Naive reference evaluator for the ops the pass tests use (eval-mode BatchNorm).
class RefEval {
 public:
  explicit RefEval(const Graph& g) : g_(g) {}

  std::map<std::string, Value> run(const Value& input) {
    std::map<std::string, Value> v;
    v[Graph::kInput] = input;
    for (const Node& n : g_.nodes) {
      std::vector<const Value*> in;
      for (const std::string& i : n.inputs) in.push_back(&v.at(i));
      v[n.name] = eval(n, in);
      EXPECT_EQ(v[n.name].shape, n.shape) << n.name;
    }
    return v;
  }

 private:
  static double t(const Node& n, const char* key, int64_t i) {
    const Tensor* x = n.tensor(key);
    return x ? static_cast<double>(x->at(i)) : 0.0;
  }

  static Value eval(const Node& n, const std::vector<const Value*>& in) {
    const Value& x = *in.at(0);
    Value y;
    y.shape = n.shape;
    y.data.assign(static_cast<size_t>(numel(n.shape)), 0.0);
    switch (n.op) {
      case Op::Conv2d: {
        const int64_t C = x.shape[0], H = x.shape[1], W = x.shape[2];
        const int64_t O = n.shape[0], OH = n.shape[1], OW = n.shape[2];
        const int64_t cg = C / n.groups, og = O / n.groups, KH = n.kernel[0], KW = n.kernel[1];
        for (int64_t o = 0; o < O; ++o)
          for (int64_t oh = 0; oh < OH; ++oh)
            for (int64_t ow = 0; ow < OW; ++ow) {
              double acc = t(n, "bias", o);
              for (int64_t ci = 0; ci < cg; ++ci)
                for (int64_t kh = 0; kh < KH; ++kh)
                  for (int64_t kw = 0; kw < KW; ++kw) {
                    const int64_t ih = oh * n.stride[0] - n.pads[0] + kh * n.dilation[0];
                    const int64_t iw = ow * n.stride[1] - n.pads[1] + kw * n.dilation[1];
                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                    const int64_t c = (o / og) * cg + ci;
                    acc += t(n, "weight", ((o * cg + ci) * KH + kh) * KW + kw) * x.data[(c * H + ih) * W + iw];
                  }
              y.data[(o * OH + oh) * OW + ow] = acc;
            }
        return y;
      }
      case Op::Linear: {
        const int64_t F = x.shape[0];
        for (int64_t o = 0; o < n.shape[0]; ++o) {
          double acc = t(n, "bias", o);
          for (int64_t f = 0; f < F; ++f) acc += t(n, "weight", o * F + f) * x.data[f];
          y.data[o] = acc;
        }
        return y;
      }
      case Op::BatchNorm: {
        const int64_t C = x.shape[0], per = numel(x.shape) / C;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t i = 0; i < per; ++i)
            y.data[c * per + i] = t(n, "weight", c) * (x.data[c * per + i] - t(n, "running_mean", c)) /
                                      std::sqrt(t(n, "running_var", c) + n.eps) +
                                  t(n, "bias", c);
        return y;
      }
      case Op::ReLU:
        for (size_t i = 0; i < x.data.size(); ++i) y.data[i] = std::max(0.0, x.data[i]);
        return y;
      case Op::Identity:
      case Op::Flatten:
        y.data = x.data;
        return y;
      case Op::Add:
        for (const Value* v : in)
          for (size_t i = 0; i < v->data.size(); ++i) y.data[i] += v->data[i];
        return y;
      case Op::Concat: {  // channels only (axis 1)
        EXPECT_EQ(n.axis, 1);
        y.data.clear();
        for (const Value* v : in) y.data.insert(y.data.end(), v->data.begin(), v->data.end());
        return y;
      }
      case Op::MaxPool: {
        const int64_t C = x.shape[0], H = x.shape[1], W = x.shape[2], OH = n.shape[1], OW = n.shape[2];
        for (int64_t c = 0; c < C; ++c)
          for (int64_t oh = 0; oh < OH; ++oh)
            for (int64_t ow = 0; ow < OW; ++ow) {
              double m = -INFINITY;
              for (int64_t kh = 0; kh < n.kernel[0]; ++kh)
                for (int64_t kw = 0; kw < n.kernel[1]; ++kw) {
                  const int64_t ih = oh * n.stride[0] - n.pads[0] + kh, iw = ow * n.stride[1] - n.pads[1] + kw;
                  if (ih >= 0 && ih < H && iw >= 0 && iw < W) m = std::max(m, x.data[(c * H + ih) * W + iw]);
                }
              y.data[(c * OH + oh) * OW + ow] = m;
            }
        return y;
      }
      case Op::GlobalAvgPool: {
        const int64_t C = x.shape[0], per = x.shape[1] * x.shape[2];
        for (int64_t c = 0; c < C; ++c) {
          double s = 0;
          for (int64_t i = 0; i < per; ++i) s += x.data[c * per + i];
          y.data[c] = s / static_cast<double>(per);
        }
        return y;
      }
      case Op::Softmax: {
        const double m = *std::max_element(x.data.begin(), x.data.end());
        double s = 0;
        for (size_t i = 0; i < x.data.size(); ++i) s += (y.data[i] = std::exp(x.data[i] - m));
        for (double& v : y.data) v /= s;
        return y;
      }
      default:
        ADD_FAILURE() << "reference evaluator lacks op " << op_name(n.op);
        return y;
    }
  }

  const Graph& g_;
};

Value random_input(const Shape& shape, uint64_t seed) {
  TestRng rng(seed);
  Value v{shape, {}};
  for (int64_t i = 0; i < numel(shape); ++i) v.data.push_back(rng.uniform(-1.0f, 1.0f));
  return v;
}

void expect_close(const Value& a, const Value& b, const std::string& what) {
  ASSERT_EQ(a.shape, b.shape) << what;
  double worst = 0;
  for (size_t i = 0; i < a.data.size(); ++i) worst = std::max(worst, std::abs(a.data[i] - b.data[i]));
  EXPECT_LE(worst, kFoldTolerance) << what;
}

int count_op(const Graph& g, Op op) {
  return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.op == op; }));
}

TEST(FoldBatchNorm, ResBlockMatchesReference) {
  Graph g = test::make_test_resblock();
  const Value x = random_input(g.meta.input_shape, 11);
  const auto before = RefEval(g).run(x);

  EXPECT_EQ(fold_batchnorm(g), 3);
  EXPECT_EQ(count_op(g, Op::BatchNorm), 0);
  EXPECT_EQ(g.find("bn1"), nullptr);
  // conv1 had no bias: one was created
  EXPECT_TRUE(g.at("conv1").has_bias);
  ASSERT_NE(g.at("conv1").tensor("bias"), nullptr);
  EXPECT_EQ(g.at("conv1").tensor("bias")->shape, (Shape{8}));
  EXPECT_EQ(g.at("relu1").inputs, std::vector<std::string>{"conv1"});
  EXPECT_EQ(g.at("add").inputs, (std::vector<std::string>{"conv2", "relu1"}));
  EXPECT_EQ(g.at("cat").inputs, (std::vector<std::string>{"relu2", "dw"}));  // depthwise folded

  const auto after = RefEval(g).run(x);
  // Nonzero BN effect, so the check can fail: the unfolded conv output differs from the folded one.
  double diff = 0;
  for (size_t i = 0; i < before.at("conv2").data.size(); ++i)
    diff = std::max(diff, std::abs(before.at("conv2").data[i] - after.at("conv2").data[i]));
  EXPECT_GT(diff, 0.01);
  expect_close(after.at("conv2"), before.at("bn2"), "conv2 vs bn2");
  expect_close(after.at("dw"), before.at("bn3"), "dw vs bn3");
  for (const char* name : {"relu1", "add", "cat", "fc", "softmax"}) expect_close(after.at(name), before.at(name), name);
}

TEST(FoldBatchNorm, GroupedConvAsGraphOutput) {
  TestRng rng(21);
  Graph g;
  g.meta.input_shape = {4, 6, 6};
  Node c = test::test_conv("conv", Graph::kInput, 4, 6, 3, rng, 2, 1, 2, true);
  c.dilation = {1, 2};
  g.add(c);
  g.add(test::test_batchnorm("bn", "conv", 6, rng));
  g.outputs = {"bn"};
  g.infer_shapes();
  const Value x = random_input(g.meta.input_shape, 12);
  const auto before = RefEval(g).run(x);
  EXPECT_EQ(fold_batchnorm(g), 1);
  EXPECT_EQ(g.outputs, std::vector<std::string>{"conv"});
  EXPECT_EQ(g.nodes.size(), 1u);
  expect_close(RefEval(g).run(x).at("conv"), before.at("bn"), "grouped conv");
}

TEST(FoldBatchNorm, LinearWithoutBias) {
  TestRng rng(22);
  Graph g;
  g.meta.input_shape = {6};
  g.add(test::test_linear("fc", Graph::kInput, 6, 4, rng, false));
  Node bn = test::test_batchnorm("bn", "fc", 4, rng);
  bn.eps = 1e-3f;
  g.add(bn);
  g.add(test::test_node("relu", Op::ReLU, {"bn"}));
  g.outputs = {"relu"};
  g.infer_shapes();
  const Value x = random_input(g.meta.input_shape, 13);
  const auto before = RefEval(g).run(x);
  EXPECT_EQ(fold_batchnorm(g), 1);
  EXPECT_TRUE(g.at("fc").has_bias);
  expect_close(RefEval(g).run(x).at("relu"), before.at("relu"), "linear");
  expect_close(RefEval(g).run(x).at("fc"), before.at("bn"), "linear pre-activation");
}

TEST(FoldBatchNorm, LeavesUnfoldableBatchNorms) {
  TestRng rng(23);
  Graph g;
  g.meta.input_shape = {3, 5, 5};
  g.add(test::test_conv("conv", Graph::kInput, 3, 4, 3, rng, 1, 1));
  g.add(test::test_batchnorm("bn_shared", "conv", 4, rng));   // conv also feeds "add"
  g.add(test::test_node("add", Op::Add, {"bn_shared", "conv"}));
  g.add(test::test_node("relu", Op::ReLU, {"add"}));
  g.add(test::test_batchnorm("bn_after_relu", "relu", 4, rng));  // producer is not a conv
  g.add(test::test_batchnorm("bn_input", Graph::kInput, 3, rng));
  g.add(test::test_node("gap", Op::GlobalAvgPool, {"bn_input"}));
  g.outputs = {"bn_after_relu", "gap"};
  g.infer_shapes();
  const Tensor w = g.at("conv").tensors.at("weight");
  EXPECT_EQ(fold_batchnorm(g), 0);
  EXPECT_EQ(count_op(g, Op::BatchNorm), 3);
  EXPECT_EQ(g.at("conv").tensors.at("weight"), w);
}

TEST(FoldBatchNorm, MissingStatisticNamesNode) {
  TestRng rng(24);
  Graph g;
  g.meta.input_shape = {2, 4, 4};
  g.add(test::test_conv("conv", Graph::kInput, 2, 3, 1, rng));
  Node bn = test::test_batchnorm("bn", "conv", 3, rng);
  bn.tensors.erase("running_var");
  g.add(bn);
  g.outputs = {"bn"};
  try {
    fold_batchnorm(g);
    FAIL() << "no throw";
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("'bn'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("running_var"), std::string::npos) << e.what();
  }
}

TEST(RemoveIdentities, RewiresConsumersAndOutputs) {
  Graph g = test::make_test_resblock();
  const Value x = random_input(g.meta.input_shape, 14);
  const auto before = RefEval(g).run(x);
  g.add(test::test_node("id1", Op::Identity, {"relu2"}));
  g.replace_uses("relu2", "id1");
  g.add(test::test_node("id2", Op::Identity, {"id1"}));
  g.replace_uses("id1", "id2");
  g.add(test::test_node("id_out", Op::Identity, {"softmax"}));
  g.replace_uses("softmax", "id_out");
  g.infer_shapes();
  EXPECT_EQ(g.consumers("relu2"), std::vector<std::string>{"id1"});
  EXPECT_EQ(remove_identities(g), 3);
  EXPECT_EQ(count_op(g, Op::Identity), 0);
  EXPECT_EQ(g.outputs, std::vector<std::string>{"softmax"});
  EXPECT_EQ(g.consumers("relu2"), (std::vector<std::string>{"dw", "cat"}));
  const auto after = RefEval(g).run(x);
  expect_close(after.at("softmax"), before.at("softmax"), "softmax");
  EXPECT_EQ(remove_identities(g), 0);
}

}  // namespace
}  // namespace shrink::ir
