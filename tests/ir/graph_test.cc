// Graph IR: editing, validation and shape inference for every op, including error messages.
#include "compress/ir/graph.h"

#include <gtest/gtest.h>

#include <string>

#include "compress/ir/error.h"
#include "tests/ir/test_graphs.h"

namespace shrink::ir {
namespace {

using shrink::test::TestRng;
using shrink::test::test_conv;
using shrink::test::test_linear;
using shrink::test::test_node;
using shrink::test::test_pool;

// Expects `stmt` to throw BadInput whose message contains every string in `parts`.
#define EXPECT_BAD_INPUT(stmt, ...)                                                  \
  do {                                                                               \
    bool thrown_ = false;                                                            \
    try {                                                                            \
      stmt;                                                                          \
    } catch (const BadInput& e_) {                                                   \
      thrown_ = true;                                                                \
      for (const char* p_ : {__VA_ARGS__})                                           \
        EXPECT_NE(std::string(e_.what()).find(p_), std::string::npos)                \
            << "message '" << e_.what() << "' lacks '" << p_ << "'";                 \
      EXPECT_EQ(std::string(e_.what()).find('\n'), std::string::npos) << e_.what();  \
    }                                                                                \
    EXPECT_TRUE(thrown_) << #stmt " did not throw BadInput";                         \
  } while (0)

// A graph with one op on an input of `in_shape`.
Graph single(Node n, Shape in_shape) {
  Graph g;
  g.meta.input_shape = std::move(in_shape);
  n.inputs = {Graph::kInput};
  std::string name = n.name;
  g.add(std::move(n));
  g.outputs = {name};
  return g;
}

Shape infer_single(Node n, Shape in_shape) {
  Graph g = single(std::move(n), std::move(in_shape));
  g.infer_shapes();
  return g.nodes.back().shape;
}

TEST(GraphOps, NamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(Op::Identity); ++i) {
    Op op = static_cast<Op>(i);
    EXPECT_EQ(op_from_name(op_name(op)), op);
  }
  EXPECT_STREQ(op_name(Op::Conv2d), "Conv2d");
  EXPECT_STREQ(op_name(Op::GlobalAvgPool), "GlobalAvgPool");
  EXPECT_BAD_INPUT(op_from_name("Conv3d"), "Conv3d");
  EXPECT_TRUE(has_weights(Op::Conv2d));
  EXPECT_TRUE(has_weights(Op::Linear));
  EXPECT_TRUE(has_weights(Op::BatchNorm));
  EXPECT_FALSE(has_weights(Op::ReLU));
  EXPECT_FALSE(has_weights(Op::Add));
}

TEST(GraphShapes, LeNet5) {
  Graph g = test::make_test_lenet5();
  EXPECT_EQ(g.at("conv1").shape, (Shape{20, 24, 24}));
  EXPECT_EQ(g.at("pool1").shape, (Shape{20, 12, 12}));
  EXPECT_EQ(g.at("conv2").shape, (Shape{50, 8, 8}));
  EXPECT_EQ(g.at("pool2").shape, (Shape{50, 4, 4}));
  EXPECT_EQ(g.at("flatten").shape, (Shape{800}));
  EXPECT_EQ(g.at("fc1").shape, (Shape{500}));
  EXPECT_EQ(g.at("relu1").shape, (Shape{500}));
  EXPECT_EQ(g.at("fc2").shape, (Shape{10}));
  EXPECT_EQ(g.shape_of(Graph::kInput), (Shape{1, 28, 28}));
  EXPECT_EQ(g.at("conv2").in_channels, 20);
  // weights + biases of conv1, conv2, fc1, fc2
  const int64_t expected = (20 * 1 * 25 + 20) + (50 * 20 * 25 + 50) + (500 * 800 + 500) + (10 * 500 + 10);
  EXPECT_EQ(g.param_count(), expected);
}

TEST(GraphShapes, ResBlock) {
  Graph g = test::make_test_resblock();
  EXPECT_EQ(g.at("bn1").shape, (Shape{8, 8, 8}));
  EXPECT_EQ(g.at("add").shape, (Shape{8, 8, 8}));
  EXPECT_EQ(g.at("dw").shape, (Shape{8, 8, 8}));
  EXPECT_EQ(g.at("cat").shape, (Shape{16, 8, 8}));
  EXPECT_EQ(g.at("pool").shape, (Shape{16, 4, 4}));
  EXPECT_EQ(g.at("gap").shape, (Shape{16, 1, 1}));
  EXPECT_EQ(g.at("flatten").shape, (Shape{16}));
  EXPECT_EQ(g.at("softmax").shape, (Shape{10}));
  // conv1 has no bias; BatchNorm counts its four vectors
  const int64_t expected = 8 * 3 * 9 + 3 * 4 * 8 + (8 * 8 * 9 + 8) + (8 * 9 + 8) + (10 * 16 + 10);
  EXPECT_EQ(g.param_count(), expected);
}

TEST(GraphShapes, ConvStridePadDilationAsymmetric) {
  TestRng rng(3);
  Node c = test_conv("c", Graph::kInput, 3, 4, 3, rng);
  c.stride = {2, 2};
  c.dilation = {2, 2};
  c.pads = {1, 0, 2, 1};  // top, left, bottom, right
  // H: (10 + 1 + 2 - 2*2 - 1) / 2 + 1 = 5 ; W: (10 + 0 + 1 - 5) / 2 + 1 = 4
  EXPECT_EQ(infer_single(c, {3, 10, 10}), (Shape{4, 5, 4}));
}

TEST(GraphShapes, ConvFillsChannelsFromWeight) {
  TestRng rng(4);
  Node c = test_conv("c", Graph::kInput, 3, 6, 3, rng);
  c.in_channels = 0;
  c.out_channels = 0;
  Graph g = single(c, {3, 5, 5});
  g.infer_shapes();
  EXPECT_EQ(g.at("c").in_channels, 3);
  EXPECT_EQ(g.at("c").out_channels, 6);
  EXPECT_EQ(g.at("c").shape, (Shape{6, 3, 3}));
}

TEST(GraphShapes, GroupedAndDepthwiseConv) {
  TestRng rng(5);
  EXPECT_EQ(infer_single(test_conv("g", Graph::kInput, 4, 6, 3, rng, 1, 1, 2), {4, 7, 7}), (Shape{6, 7, 7}));
  Node dw = test_conv("dw", Graph::kInput, 8, 8, 3, rng, 2, 1, 8);
  EXPECT_EQ(dw.tensors["weight"].shape, (Shape{8, 1, 3, 3}));
  EXPECT_EQ(infer_single(dw, {8, 9, 9}), (Shape{8, 5, 5}));
  Node dw2 = dw;
  dw2.in_channels = 0;
  EXPECT_BAD_INPUT(infer_single(dw2, {4, 9, 9}), "'dw'", "[4, 9, 9]");
}

TEST(GraphShapes, ConvWrongInChannelsNamesNode) {
  TestRng rng(6);
  Node c = test_conv("conv1", Graph::kInput, 1, 20, 5, rng);
  c.in_channels = 0;
  EXPECT_BAD_INPUT(infer_single(c, {3, 28, 28}), "'conv1'", "[3, 28, 28]", "expected 1");
  Node c2 = test_conv("conv1", Graph::kInput, 1, 20, 5, rng);
  EXPECT_BAD_INPUT(infer_single(c2, {1, 28}), "'conv1'", "[1, 28]", "3-D");
  Node c3 = test_conv("conv1", Graph::kInput, 1, 20, 5, rng);
  c3.kernel = {3, 3};
  EXPECT_BAD_INPUT(infer_single(c3, {1, 28, 28}), "'conv1'", "kernel 3x3");
  Node c4 = test_conv("conv1", Graph::kInput, 1, 20, 5, rng);
  EXPECT_BAD_INPUT(infer_single(c4, {1, 4, 4}), "'conv1'", "too small");
  Node c5 = test_conv("conv1", Graph::kInput, 1, 20, 5, rng);
  c5.tensors["bias"] = Tensor({19});
  EXPECT_BAD_INPUT(infer_single(c5, {1, 28, 28}), "'conv1'", "bias", "[19]", "[20]");
}

TEST(GraphShapes, LinearChecks) {
  TestRng rng(7);
  EXPECT_EQ(infer_single(test_linear("fc", Graph::kInput, 12, 5, rng), {12}), (Shape{5}));
  EXPECT_BAD_INPUT(infer_single(test_linear("fc", Graph::kInput, 12, 5, rng), {3, 2, 2}), "'fc'", "[3, 2, 2]",
                   "1-D");
  Node fc = test_linear("fc", Graph::kInput, 12, 5, rng);
  fc.in_channels = 0;
  EXPECT_BAD_INPUT(infer_single(fc, {13}), "'fc'", "[13]", "expected 12");
}

TEST(GraphShapes, BatchNormAndElementwise) {
  TestRng rng(8);
  EXPECT_EQ(infer_single(test::test_batchnorm("bn", Graph::kInput, 3, rng), {3, 4, 5}), (Shape{3, 4, 5}));
  EXPECT_EQ(infer_single(test::test_batchnorm("bn", Graph::kInput, 7, rng), {7}), (Shape{7}));
  EXPECT_BAD_INPUT(infer_single(test::test_batchnorm("bn", Graph::kInput, 3, rng), {4, 4, 5}), "'bn'",
                   "[4]", "[3]");
  for (Op op : {Op::ReLU, Op::ReLU6, Op::LeakyReLU, Op::Sigmoid, Op::Tanh, Op::Identity})
    EXPECT_EQ(infer_single(test_node("e", op, {}), {2, 3, 4}), (Shape{2, 3, 4})) << op_name(op);
  Node sm = test_node("sm", Op::Softmax, {});
  EXPECT_EQ(infer_single(sm, {10}), (Shape{10}));
  sm.axis = -1;
  EXPECT_EQ(infer_single(sm, {10}), (Shape{10}));
  sm.axis = 2;
  EXPECT_BAD_INPUT(infer_single(sm, {10}), "'sm'", "axis 2");
}

TEST(GraphShapes, PoolingFloorAndCeil) {
  EXPECT_EQ(infer_single(test_pool("p", Op::MaxPool, "", 2, 2), {3, 5, 5}), (Shape{3, 2, 2}));
  EXPECT_EQ(infer_single(test_pool("p", Op::MaxPool, "", 2, 2, 0, true), {3, 5, 5}), (Shape{3, 3, 3}));
  // ceil_mode: ceil((5 + 2 - 2) / 2) + 1 = 4, but the 4th window would start in the end padding
  EXPECT_EQ(infer_single(test_pool("p", Op::MaxPool, "", 2, 2, 1, true), {3, 5, 5}), (Shape{3, 3, 3}));
  EXPECT_EQ(infer_single(test_pool("p", Op::AvgPool, "", 3, 2, 1), {4, 7, 7}), (Shape{4, 4, 4}));
  EXPECT_EQ(infer_single(test_pool("p", Op::AvgPool, "", 3, 2, 1, true), {4, 8, 8}), (Shape{4, 5, 5}));
  Node asym = test_pool("p", Op::MaxPool, "", 3, 1);
  asym.pads = {0, 1, 2, 0};
  EXPECT_EQ(infer_single(asym, {1, 6, 6}), (Shape{1, 6, 5}));
  EXPECT_BAD_INPUT(infer_single(test_pool("p", Op::MaxPool, "", 3, 1), {1, 2, 2}), "'p'", "[1, 2, 2]");
  Node bad = test_pool("p", Op::AvgPool, "", 2, 0);
  EXPECT_BAD_INPUT(infer_single(bad, {1, 4, 4}), "'p'", "stride");
  EXPECT_EQ(infer_single(test_node("gap", Op::GlobalAvgPool, {}), {5, 3, 7}), (Shape{5, 1, 1}));
  EXPECT_BAD_INPUT(infer_single(test_node("gap", Op::GlobalAvgPool, {}), {5}), "'gap'", "[5]");
}

// Node `n` fed by two branches of shapes `a` and `b` (structure-only Linear + Reshape each).
Graph two_input_graph(Node n, Shape a, Shape b) {
  Graph g;
  g.meta.input_shape = {1};
  for (auto [name, shape] : {std::pair{std::string("a"), a}, std::pair{std::string("b"), b}}) {
    Node fc = test_node("fc_" + name, Op::Linear, {Graph::kInput});
    fc.out_channels = numel(shape);
    fc.has_bias = false;
    Node r = test_node(name, Op::Reshape, {fc.name});
    r.target_shape = shape;
    g.add(fc);
    g.add(r);
  }
  n.inputs = {"a", "b"};
  g.outputs = {n.name};
  g.add(std::move(n));
  return g;
}

TEST(GraphShapes, AddRequiresEqualShapes) {
  Graph ok = two_input_graph(test_node("sum", Op::Add, {}), {4, 4}, {4, 4});
  ok.infer_shapes();
  EXPECT_EQ(ok.at("sum").shape, (Shape{4, 4}));
  Graph bad = two_input_graph(test_node("sum", Op::Add, {}), {4, 4}, {2, 8});
  EXPECT_BAD_INPUT(bad.infer_shapes(), "'sum'", "[4, 4]", "[2, 8]");
  Graph one = single(test_node("sum", Op::Add, {}), {3});
  EXPECT_BAD_INPUT(one.infer_shapes(), "'sum'", "1 inputs");
}

TEST(GraphShapes, ConcatAxisCountsBatch) {
  Node cat = test_node("cat", Op::Concat, {});
  Graph ch = two_input_graph(cat, {1, 2, 8}, {2, 2, 8});  // axis 1 = channels
  ch.infer_shapes();
  EXPECT_EQ(ch.at("cat").shape, (Shape{3, 2, 8}));
  cat.axis = -1;
  Graph last = two_input_graph(cat, {1, 2, 8}, {1, 2, 8});
  last.infer_shapes();
  EXPECT_EQ(last.at("cat").shape, (Shape{1, 2, 16}));
  cat.axis = 1;
  Graph bad = two_input_graph(cat, {1, 2, 8}, {1, 4, 4});
  EXPECT_BAD_INPUT(bad.infer_shapes(), "'cat'", "[1, 2, 8]", "[1, 4, 4]");
  cat.axis = 0;
  Graph batch = two_input_graph(cat, {1, 2, 8}, {1, 2, 8});
  EXPECT_BAD_INPUT(batch.infer_shapes(), "'cat'", "axis 0");
}

TEST(GraphShapes, FlattenAndReshape) {
  EXPECT_EQ(infer_single(test_node("f", Op::Flatten, {}), {50, 4, 4}), (Shape{800}));
  Node f2 = test_node("f", Op::Flatten, {});
  f2.axis = 2;
  EXPECT_BAD_INPUT(infer_single(f2, {50, 4, 4}), "'f'", "axis 2");
  Node r = test_node("r", Op::Reshape, {});
  r.target_shape = {-1, 4};
  EXPECT_EQ(infer_single(r, {50, 4, 4}), (Shape{200, 4}));
  r.target_shape = {10, 80};
  EXPECT_EQ(infer_single(r, {50, 4, 4}), (Shape{10, 80}));
  r.target_shape = {-1, -1};
  EXPECT_BAD_INPUT(infer_single(r, {50, 4, 4}), "'r'", "more than one -1");
  r.target_shape = {7, -1};
  EXPECT_BAD_INPUT(infer_single(r, {50, 4, 4}), "'r'", "800 elements", "[7, -1]");
  r.target_shape = {10, 10};
  EXPECT_BAD_INPUT(infer_single(r, {50, 4, 4}), "'r'", "800 elements", "[10, 10]");
}

TEST(GraphValidate, CycleNamesNode) {
  Graph g;
  g.meta.input_shape = {4};
  g.add(test_node("a", Op::ReLU, {"b"}));
  g.add(test_node("b", Op::ReLU, {"a"}));
  g.add(test_node("c", Op::ReLU, {Graph::kInput}));
  g.outputs = {"c"};
  EXPECT_BAD_INPUT(g.validate(), "cycle", "'a'", "'b'");
  Graph self;
  self.meta.input_shape = {4};
  self.add(test_node("loop", Op::Add, {Graph::kInput, "loop"}));
  self.outputs = {"loop"};
  EXPECT_BAD_INPUT(self.infer_shapes(), "cycle", "'loop'");
}

TEST(GraphValidate, DanglingInputAndUndefinedOutput) {
  Graph g;
  g.meta.input_shape = {4};
  g.add(test_node("relu", Op::ReLU, {"ghost"}));
  g.outputs = {"relu"};
  EXPECT_BAD_INPUT(g.validate(), "'relu'", "'ghost'");
  Graph h;
  h.meta.input_shape = {4};
  h.add(test_node("relu", Op::ReLU, {Graph::kInput}));
  h.outputs = {"nothing"};
  EXPECT_BAD_INPUT(h.validate(), "'nothing'");
}

TEST(GraphValidate, DuplicateAndReservedNames) {
  Graph g;
  g.add(test_node("x", Op::ReLU, {Graph::kInput}));
  EXPECT_BAD_INPUT(g.add(test_node("x", Op::Tanh, {Graph::kInput})), "duplicate", "'x'");
  EXPECT_BAD_INPUT(g.add(test_node(Graph::kInput, Op::Tanh, {Graph::kInput})), "reserved");
  g.nodes.push_back(test_node("x", Op::Tanh, {Graph::kInput}));  // bypassing add()
  g.outputs = {"x"};
  EXPECT_BAD_INPUT(g.validate(), "duplicate", "'x'");
}

TEST(GraphValidate, ResortsTopologically) {
  Graph g;
  g.meta.input_shape = {2, 4, 4};
  g.add(test_node("c", Op::Add, {"a", "b"}));
  g.add(test_node("b", Op::Sigmoid, {"a"}));
  g.add(test_node("a", Op::ReLU, {Graph::kInput}));
  g.add(test_node("d", Op::Tanh, {Graph::kInput}));
  g.outputs = {"c"};
  g.infer_shapes();
  std::vector<std::string> order;
  for (const Node& n : g.nodes) order.push_back(n.name);
  // stable: among ready nodes the earlier one stays first
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(g.at("c").shape, (Shape{2, 4, 4}));
}

TEST(GraphEdit, ConsumersReplaceRemove) {
  Graph g = test::make_test_resblock();
  EXPECT_EQ(g.consumers("relu1"), (std::vector<std::string>{"conv2", "add"}));
  EXPECT_EQ(g.consumers("softmax"), std::vector<std::string>{});
  EXPECT_BAD_INPUT(g.remove("relu1"), "'relu1'", "'conv2'");
  EXPECT_BAD_INPUT(g.remove("softmax"), "output");
  EXPECT_BAD_INPUT(g.at("nope"), "'nope'");
  EXPECT_EQ(g.find("nope"), nullptr);

  // insert a node after relu2 and move its consumers onto it
  g.add(test_node("id", Op::Identity, {"relu2"}));
  g.replace_uses("relu2", "id");
  EXPECT_EQ(g.at("id").inputs, std::vector<std::string>{"relu2"});
  EXPECT_EQ(g.consumers("relu2"), std::vector<std::string>{"id"});
  EXPECT_EQ(g.consumers("id"), (std::vector<std::string>{"dw", "cat"}));
  g.infer_shapes();  // re-sorts the appended node before its consumers
  EXPECT_EQ(g.at("cat").shape, (Shape{16, 8, 8}));

  g.replace_uses("softmax", "fc");
  EXPECT_EQ(g.outputs, std::vector<std::string>{"fc"});
  g.remove("softmax");
  EXPECT_EQ(g.find("softmax"), nullptr);
  g.infer_shapes();
  EXPECT_EQ(g.shape_of("fc"), (Shape{10}));
}

TEST(GraphNode, TensorLookup) {
  Graph g = test::make_test_lenet5();
  const Node& c = g.at("conv1");
  ASSERT_NE(c.tensor("weight"), nullptr);
  EXPECT_EQ(c.tensor("weight")->shape, (Shape{20, 1, 5, 5}));
  EXPECT_EQ(c.tensor("weight_mask"), nullptr);
  // same seed, same weights; another seed, other weights
  EXPECT_EQ(test::make_test_lenet5(1).at("fc1").tensors.at("weight"), g.at("fc1").tensors.at("weight"));
  EXPECT_FALSE(test::make_test_lenet5(9).at("fc1").tensors.at("weight") == g.at("fc1").tensors.at("weight"));
}

}  // namespace
}  // namespace shrink::ir
