// ONNX import / export (compress/ir/onnx_io.h): models are built here with the protobuf API
// (onnx_model_builder.h, which sets up the ONNX defines before any ONNX header).
#include "onnx_model_builder.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "test_graphs.h"

namespace shrink::ir {
namespace {

namespace fs = std::filesystem;

class OnnxIoTest : public OnnxTempDirTest {};

// ---- import ------------------------------------------------------------------------------------

TEST_F(OnnxIoTest, ImportsConvReluFlattenGemm) {
  ModelBuilder b({1, 5, 5});
  b.init("w", {2, 1, 3, 3}, iota(18), /*raw=*/false);  // float_data
  b.init("bias", {2}, {0.5f, -0.5f});                    // raw_data
  auto* conv = b.node("Conv", "/features/conv/Conv", {"x", "w", "bias"}, "c");
  ModelBuilder::ints(conv, "pads", {1, 0, 1, 2});
  ModelBuilder::ints(conv, "strides", {2, 1});
  ModelBuilder::ints(conv, "kernel_shape", {3, 3});
  b.node("Relu", "relu", {"c"}, "r");
  ModelBuilder::int1(b.node("Flatten", "", {"r"}, "f"), "axis", 1);
  // conv out {2, 3, 5} -> 30 features; Gemm with transB = 0: B is {in, out} = {30, 4}.
  b.init("B", {30, 4}, iota(120, 1.0f));
  b.init("C", {4}, {1, 2, 3, 4});
  b.node("Gemm", "fc", {"f", "B", "C"}, "y");
  b.output("y");
  b.save(path("m.onnx"));

  Graph g = import_onnx(path("m.onnx"));
  EXPECT_EQ(g.meta.input_shape, (Shape{1, 5, 5}));
  EXPECT_EQ(g.meta.name, "built");
  EXPECT_EQ(g.meta.producer, "builder");
  EXPECT_TRUE(g.meta.mean.empty());
  EXPECT_TRUE(g.meta.std.empty());
  ASSERT_EQ(g.nodes.size(), 4u);
  const Node& c = g.nodes[0];
  EXPECT_EQ(c.name, "features.conv.Conv");
  EXPECT_EQ(c.op, Op::Conv2d);
  EXPECT_EQ(c.inputs, (std::vector<std::string>{Graph::kInput}));
  EXPECT_EQ(c.out_channels, 2);
  EXPECT_EQ(c.in_channels, 1);
  EXPECT_EQ(c.stride, (std::array<int64_t, 2>{2, 1}));
  EXPECT_EQ(c.pads, (std::array<int64_t, 4>{1, 0, 1, 2}));
  EXPECT_EQ(c.tensor("weight")->data, iota(18));
  EXPECT_EQ(c.tensor("bias")->data, (std::vector<float>{0.5f, -0.5f}));
  EXPECT_EQ(c.shape, (Shape{2, 3, 5}));  // (5+2-3)/2+1 = 3, (5+2-3)/1+1 = 5
  EXPECT_EQ(g.nodes[1].op, Op::ReLU);
  EXPECT_EQ(g.nodes[1].inputs, (std::vector<std::string>{c.name}));
  EXPECT_EQ(g.nodes[2].op, Op::Flatten);
  EXPECT_EQ(g.nodes[2].name, "Flatten_2");  // an empty name gets op and index
  const Node& fc = g.nodes[3];
  EXPECT_EQ(fc.op, Op::Linear);
  EXPECT_EQ(fc.inputs, (std::vector<std::string>{"Flatten_2"}));
  ASSERT_EQ(fc.tensor("weight")->shape, (Shape{4, 30}));
  // IR weight {out, in}: w[o][i] = B[i][o] = i * 4 + o.
  for (int64_t o = 0; o < 4; ++o)
    for (int64_t i = 0; i < 30; ++i)
      ASSERT_EQ(fc.tensor("weight")->at(o * 30 + i), static_cast<float>(i * 4 + o));
  EXPECT_EQ(fc.tensor("bias")->data, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(g.outputs, (std::vector<std::string>{"fc"}));
  EXPECT_EQ(fc.shape, (Shape{4}));
}

TEST_F(OnnxIoTest, GemmTransBOneKeepsWeightLayout) {
  ModelBuilder b({6}, 11, /*fixed_batch=*/1);
  b.init("W", {3, 6}, iota(18, 0.5f));
  b.node("Gemm", "fc", {"x", "W"}, "y");
  ModelBuilder::int1(b.g->mutable_node(0), "transB", 1);
  b.output("y");
  b.save(path("m.onnx"));
  Graph g = import_onnx(path("m.onnx"));
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.meta.input_shape, (Shape{6}));
  EXPECT_FALSE(g.nodes[0].has_bias);
  EXPECT_EQ(g.nodes[0].tensor("weight")->data, iota(18, 0.5f));
  EXPECT_EQ(g.nodes[0].tensor("bias"), nullptr);
}

TEST_F(OnnxIoTest, MatMulWithConstantAddBecomesOneLinear) {
  ModelBuilder b({3});
  b.init("W", {3, 2}, {1, 2, 3, 4, 5, 6});  // {in, out}
  b.node("MatMul", "mm", {"x", "W"}, "h");
  b.constant("bias", {2}, {0.25f, -0.75f});
  b.node("Add", "add_bias", {"bias", "h"}, "y");  // constant first: commutative
  b.output("y");
  b.save(path("m.onnx"));
  Graph g = import_onnx(path("m.onnx"));
  ASSERT_EQ(g.nodes.size(), 1u);
  const Node& n = g.nodes[0];
  EXPECT_EQ(n.name, "mm");
  EXPECT_EQ(n.op, Op::Linear);
  EXPECT_TRUE(n.has_bias);
  EXPECT_EQ(n.tensor("weight")->shape, (Shape{2, 3}));
  EXPECT_EQ(n.tensor("weight")->data, (std::vector<float>{1, 3, 5, 2, 4, 6}));
  EXPECT_EQ(n.tensor("bias")->data, (std::vector<float>{0.25f, -0.75f}));
  EXPECT_EQ(g.outputs, (std::vector<std::string>{"mm"}));
}

TEST_F(OnnxIoTest, AddOfConstantNotAfterMatMulIsRefused) {
  ModelBuilder b({3});
  b.node("Relu", "r", {"x"}, "h");
  b.init("k", {3}, {1, 2, 3});
  b.node("Add", "shift", {"h", "k"}, "y");
  b.output("y");
  b.save(path("m.onnx"));
  expect_bad(path("m.onnx"), {"node 'shift'", "Add", "MatMul"});
}

TEST_F(OnnxIoTest, ClipMapsToReLU6AndReLU) {
  ModelBuilder b({4});
  b.init("lo", {}, {0.0f});
  b.init("hi", {}, {6.0f});
  b.node("Clip", "six", {"x", "lo", "hi"}, "a");
  b.constant("zero", {}, {0.0f});
  b.node("Clip", "plain", {"a", "zero"}, "y");
  b.output("y");
  b.save(path("m.onnx"));
  Graph g = import_onnx(path("m.onnx"));
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op, Op::ReLU6);
  EXPECT_EQ(g.nodes[1].op, Op::ReLU);
  EXPECT_EQ(g.nodes[1].inputs, (std::vector<std::string>{"six"}));
}

TEST_F(OnnxIoTest, ClipWithOtherBoundsIsRefused) {
  ModelBuilder b({4});
  b.init("lo", {}, {-1.0f});
  b.init("hi", {}, {1.0f});
  b.node("Clip", "hardtanh", {"x", "lo", "hi"}, "y");
  b.output("y");
  b.save(path("m.onnx"));
  expect_bad(path("m.onnx"), {"node 'hardtanh'", "Clip", "ReLU6"});
}

TEST_F(OnnxIoTest, ReshapeMapsToFlattenOrReshape) {
  ModelBuilder b({2, 4, 4});
  b.init_i64("s1", {0, -1});
  b.node("Reshape", "flat", {"x", "s1"}, "f");
  b.init_i64("s2", {-1, 4, 8});
  b.node("Reshape", "back", {"f", "s2"}, "y");
  b.output("y");
  b.save(path("m.onnx"));
  Graph g = import_onnx(path("m.onnx"));
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op, Op::Flatten);
  EXPECT_EQ(g.nodes[0].shape, (Shape{32}));
  EXPECT_EQ(g.nodes[1].op, Op::Reshape);
  EXPECT_EQ(g.nodes[1].target_shape, (Shape{4, 8}));
  EXPECT_EQ(g.nodes[1].shape, (Shape{4, 8}));
}

TEST_F(OnnxIoTest, ReshapeThatMovesTheBatchIsRefused) {
  ModelBuilder b({2, 4, 4});
  b.init_i64("s", {-1});
  b.node("Reshape", "merge", {"x", "s"}, "y");
  b.output("y");
  b.save(path("m.onnx"));
  expect_bad(path("m.onnx"), {"node 'merge'", "batch"});
}

TEST_F(OnnxIoTest, ImportsBatchNormPoolingConcatSoftmax) {
  ModelBuilder b({2, 6, 6}, 12);
  b.init("g", {2}, {1.5f, 0.5f});
  b.init("be", {2}, {0.1f, 0.2f});
  b.init("mu", {2}, {-0.3f, 0.3f});
  b.init("var", {2}, {2.0f, 0.5f});
  ModelBuilder::float1(b.node("BatchNormalization", "bn", {"x", "g", "be", "mu", "var"}, "n"), "epsilon", 1e-3f);
  auto* mp = b.node("MaxPool", "mp", {"n"}, "p1");
  ModelBuilder::ints(mp, "kernel_shape", {3, 3});
  ModelBuilder::ints(mp, "strides", {2, 2});
  ModelBuilder::int1(mp, "ceil_mode", 1);
  auto* ap = b.node("AveragePool", "ap", {"n"}, "p2");
  ModelBuilder::ints(ap, "kernel_shape", {3, 3});
  ModelBuilder::ints(ap, "strides", {2, 2});
  ModelBuilder::ints(ap, "pads", {1, 1, 1, 1});
  ModelBuilder::int1(ap, "count_include_pad", 1);
  ModelBuilder::int1(b.node("Concat", "cat", {"p1", "p2"}, "c"), "axis", -3);
  b.node("GlobalAveragePool", "gap", {"c"}, "gp");
  b.node("Dropout", "drop", {"gp"}, "d");
  b.node("Identity", "id", {"d"}, "i");
  ModelBuilder::int1(b.node("Flatten", "flat", {"i"}, "f"), "axis", 1);
  ModelBuilder::int1(b.node("Softmax", "sm", {"f"}, "y"), "axis", 1);
  b.output("y");
  b.save(path("m.onnx"));

  Graph g = import_onnx(path("m.onnx"));
  const Node& bn = g.at("bn");
  EXPECT_EQ(bn.op, Op::BatchNorm);
  EXPECT_FLOAT_EQ(bn.eps, 1e-3f);
  EXPECT_EQ(bn.tensor("weight")->data, (std::vector<float>{1.5f, 0.5f}));
  EXPECT_EQ(bn.tensor("bias")->data, (std::vector<float>{0.1f, 0.2f}));
  EXPECT_EQ(bn.tensor("running_mean")->data, (std::vector<float>{-0.3f, 0.3f}));
  EXPECT_EQ(bn.tensor("running_var")->data, (std::vector<float>{2.0f, 0.5f}));
  EXPECT_EQ(g.at("mp").op, Op::MaxPool);
  EXPECT_TRUE(g.at("mp").ceil_mode);
  EXPECT_EQ(g.at("mp").shape, (Shape{2, 3, 3}));  // ceil((6-3)/2)+1 = 3
  EXPECT_EQ(g.at("ap").op, Op::AvgPool);
  EXPECT_TRUE(g.at("ap").count_include_pad);
  EXPECT_EQ(g.at("ap").pads, (std::array<int64_t, 4>{1, 1, 1, 1}));
  EXPECT_EQ(g.at("ap").shape, (Shape{2, 3, 3}));
  EXPECT_EQ(g.at("cat").axis, 1);  // -3 on a rank-4 value
  EXPECT_EQ(g.at("cat").inputs, (std::vector<std::string>{"mp", "ap"}));
  EXPECT_EQ(g.at("cat").shape, (Shape{4, 3, 3}));
  EXPECT_EQ(g.at("gap").op, Op::GlobalAvgPool);
  EXPECT_EQ(g.at("drop").op, Op::Identity);
  EXPECT_EQ(g.at("id").op, Op::Identity);
  EXPECT_EQ(g.at("sm").op, Op::Softmax);
  EXPECT_EQ(g.at("sm").axis, 1);
  EXPECT_EQ(g.at("sm").shape, (Shape{4}));
}

TEST_F(OnnxIoTest, ImportsGroupedDilatedConvAndResidualAdd) {
  ModelBuilder b({4, 7, 7}, 17);
  b.init("w", {4, 2, 3, 3}, iota(72, 0.01f));
  auto* conv = b.node("Conv", "gconv", {"x", "w"}, "c");
  ModelBuilder::int1(conv, "group", 2);
  ModelBuilder::ints(conv, "dilations", {2, 2});
  ModelBuilder::ints(conv, "pads", {2, 2, 2, 2});
  ModelBuilder::str(conv, "auto_pad", "NOTSET");
  b.node("Add", "res", {"c", "x"}, "y");
  b.output("y");
  b.save(path("m.onnx"));
  Graph g = import_onnx(path("m.onnx"));
  const Node& c = g.at("gconv");
  EXPECT_EQ(c.groups, 2);
  EXPECT_EQ(c.in_channels, 4);
  EXPECT_FALSE(c.has_bias);
  EXPECT_EQ(c.dilation, (std::array<int64_t, 2>{2, 2}));
  EXPECT_EQ(c.shape, (Shape{4, 7, 7}));
  EXPECT_EQ(g.at("res").op, Op::Add);
  EXPECT_EQ(g.at("res").inputs, (std::vector<std::string>{"gconv", Graph::kInput}));
}

TEST_F(OnnxIoTest, AutoPadOtherThanNotsetIsRefused) {
  ModelBuilder b({1, 5, 5});
  b.init("w", {1, 1, 3, 3}, iota(9));
  ModelBuilder::str(b.node("Conv", "same_conv", {"x", "w"}, "y"), "auto_pad", "SAME_UPPER");
  b.output("y");
  b.save(path("m.onnx"));
  expect_bad(path("m.onnx"), {"node 'same_conv'", "auto_pad", "SAME_UPPER"});
}

TEST_F(OnnxIoTest, DuplicateAndReservedNodeNamesAreMadeUnique) {
  ModelBuilder b({3});
  b.node("Relu", "act", {"x"}, "a");
  b.node("Sigmoid", "act", {"a"}, "s");
  b.node("Tanh", "input", {"s"}, "t");
  b.node("Relu", "/layer1/layer1.0/relu/Relu", {"t"}, "t2");
  ModelBuilder::float1(b.node("LeakyRelu", "", {"t2"}, "y"), "alpha", 0.2f);
  b.output("y");
  b.save(path("m.onnx"));
  Graph g = import_onnx(path("m.onnx"));
  ASSERT_EQ(g.nodes.size(), 5u);
  EXPECT_EQ(g.nodes[0].name, "act");
  EXPECT_EQ(g.nodes[1].name, "act_2");
  EXPECT_EQ(g.nodes[1].inputs, (std::vector<std::string>{"act"}));
  EXPECT_EQ(g.nodes[2].name, "input_node");
  EXPECT_EQ(g.nodes[3].name, "layer1.0.relu.Relu");  // PyTorch scope, repeated prefix dropped
  EXPECT_EQ(g.nodes[4].name, "LeakyRelu_4");
  EXPECT_EQ(g.nodes[4].op, Op::LeakyReLU);
  EXPECT_FLOAT_EQ(g.nodes[4].alpha, 0.2f);
  EXPECT_EQ(g.nodes[4].inputs, (std::vector<std::string>{"layer1.0.relu.Relu"}));
}

TEST_F(OnnxIoTest, UnsupportedOpNamesOpAndNode) {
  ModelBuilder b({4});
  b.node("Relu", "r", {"x"}, "a");
  b.node("Erf", "my_gelu/erf", {"a"}, "y");
  b.output("y");
  b.save(path("m.onnx"));
  expect_bad(path("m.onnx"), {"m.onnx: node 'my_gelu/erf': unsupported op 'Erf'"});
}

TEST_F(OnnxIoTest, Opset9IsRefused) {
  ModelBuilder b({4}, 9);
  b.node("Relu", "r", {"x"}, "y");
  b.output("y");
  b.save(path("m.onnx"));
  expect_bad(path("m.onnx"), {"opset 9", "11..17"});
}

TEST_F(OnnxIoTest, Opset18IsRefused) {
  ModelBuilder b({4}, 18);
  b.node("Relu", "r", {"x"}, "y");
  b.output("y");
  b.save(path("m.onnx"));
  expect_bad(path("m.onnx"), {"opset 18"});
}

TEST_F(OnnxIoTest, TruncatedFileIsBadInput) {
  ModelBuilder b({1, 5, 5});
  b.init("w", {8, 1, 3, 3}, iota(72));
  b.node("Conv", "conv", {"x", "w"}, "y");
  b.output("y");
  b.save(path("m.onnx"));
  std::string bytes = read_file(path("m.onnx"));
  write_file_atomic(path("cut.onnx"), bytes.substr(0, bytes.size() / 2));
  expect_bad(path("cut.onnx"), {"cut.onnx"});
}

TEST_F(OnnxIoTest, GarbageFileIsBadInput) {
  std::string junk;
  test::TestRng rng(7);
  for (int i = 0; i < 4096; ++i) junk.push_back(static_cast<char>(rng.next_u64() & 0xff));
  write_file_atomic(path("junk.onnx"), junk);
  expect_bad(path("junk.onnx"), {"junk.onnx"});
  write_file_atomic(path("empty.onnx"), "");
  expect_bad(path("empty.onnx"), {"empty.onnx"});
  expect_bad(path("missing.onnx"), {"missing.onnx"});
}

TEST_F(OnnxIoTest, RawDataOfWrongSizeIsBadInput) {
  ModelBuilder b({1, 5, 5});
  auto* w = b.init("w", {2, 1, 3, 3}, iota(18));
  w->mutable_raw_data()->resize(17 * 4);
  b.node("Conv", "conv", {"x", "w"}, "y");
  b.output("y");
  b.save(path("m.onnx"));
  expect_bad(path("m.onnx"), {"tensor 'w'", "raw_data"});
}

// ---- export ------------------------------------------------------------------------------------

/// Everything export -> import must preserve (the producer is rewritten by the exporter).
void expect_same_graph(const Graph& a, const Graph& b) {
  EXPECT_EQ(a.meta.name, b.meta.name);
  EXPECT_EQ(a.meta.input_shape, b.meta.input_shape);
  EXPECT_EQ(a.meta.mean, b.meta.mean);
  EXPECT_EQ(a.meta.std, b.meta.std);
  EXPECT_EQ(a.meta.labels, b.meta.labels);
  EXPECT_EQ(a.outputs, b.outputs);
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t k = 0; k < a.nodes.size(); ++k) {
    const Node& x = a.nodes[k];
    const Node& y = b.nodes[k];
    SCOPED_TRACE(x.name);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.op, y.op);
    EXPECT_EQ(x.inputs, y.inputs);
    EXPECT_EQ(x.shape, y.shape);
    EXPECT_EQ(x.tensors, y.tensors);
    if (x.op == Op::Conv2d || x.op == Op::Linear) {
      EXPECT_EQ(x.out_channels, y.out_channels);
      EXPECT_EQ(x.in_channels, y.in_channels);
      EXPECT_EQ(x.has_bias, y.has_bias);
    }
    if (x.op == Op::Conv2d || x.op == Op::MaxPool || x.op == Op::AvgPool) {
      EXPECT_EQ(x.kernel, y.kernel);
      EXPECT_EQ(x.stride, y.stride);
      EXPECT_EQ(x.pads, y.pads);
      EXPECT_EQ(x.ceil_mode, y.ceil_mode);
      EXPECT_EQ(x.count_include_pad, y.count_include_pad);
    }
    if (x.op == Op::Conv2d) {
      EXPECT_EQ(x.groups, y.groups);
      EXPECT_EQ(x.dilation, y.dilation);
    }
    if (x.op == Op::LeakyReLU) {
      EXPECT_EQ(x.alpha, y.alpha);
    }
    if (x.op == Op::BatchNorm) {
      EXPECT_EQ(x.eps, y.eps);
    }
    if (x.op == Op::Concat || x.op == Op::Softmax || x.op == Op::Flatten) {
      EXPECT_EQ(x.axis, y.axis);
    }
    if (x.op == Op::Reshape) {
      EXPECT_EQ(x.target_shape, y.target_shape);
    }
  }
}

TEST_F(OnnxIoTest, ExportImportRoundTripLeNet5WithNormalization) {
  Graph g = test::make_test_lenet5();
  ASSERT_FALSE(g.meta.mean.empty());
  export_onnx(g, path("lenet.onnx"));
  Graph back = import_onnx(path("lenet.onnx"));
  expect_same_graph(g, back);
  EXPECT_EQ(back.meta.producer.rfind("shrink", 0), 0u) << back.meta.producer;
}

TEST_F(OnnxIoTest, ExportImportRoundTripResidualBlock) {
  Graph g = test::make_test_resblock();
  export_onnx(g, path("res.onnx"));
  expect_same_graph(g, import_onnx(path("res.onnx")));
}

TEST_F(OnnxIoTest, ExportImportRoundTripEveryOp) {
  test::TestRng rng(5);
  Graph g;
  g.meta.name = "every_op";
  g.meta.input_shape = {3, 9, 9};
  g.meta.mean = {0.1f, 0.2f, 0.3f};
  g.meta.std = {0.5f, 0.25f, 2.0f};
  g.add(test::test_conv("conv", Graph::kInput, 3, 6, 3, rng, 2, 1, 3, false));
  g.at("conv").dilation = {1, 1};
  g.add(test::test_node("relu6", Op::ReLU6, {"conv"}));
  Node lrelu = test::test_node("lrelu", Op::LeakyReLU, {"relu6"});
  lrelu.alpha = 0.125f;
  g.add(std::move(lrelu));
  g.add(test::test_node("sig", Op::Sigmoid, {"lrelu"}));
  g.add(test::test_node("tanh", Op::Tanh, {"lrelu"}));
  g.add(test::test_node("sum", Op::Add, {"sig", "tanh"}));
  Node ap = test::test_pool("avg", Op::AvgPool, "sum", 3, 2, 1, true);
  ap.count_include_pad = true;
  g.add(std::move(ap));
  g.add(test::test_node("id", Op::Identity, {"avg"}));
  Node rs = test::test_node("rs", Op::Reshape, {"id"});
  rs.target_shape = {-1, 3};
  g.add(std::move(rs));
  Node flat = test::test_node("flat", Op::Flatten, {"rs"});
  flat.axis = 1;
  g.add(std::move(flat));
  g.add(test::test_linear("fc", "flat", 54, 5, rng, false));
  Node sm = test::test_node("sm", Op::Softmax, {"fc"});
  sm.axis = 1;
  g.add(std::move(sm));
  g.outputs = {"sm"};
  g.infer_shapes();
  export_onnx(g, path("all.onnx"));
  expect_same_graph(g, import_onnx(path("all.onnx")));
}

TEST_F(OnnxIoTest, ExportWritesCheckedOpset13ModelWithDynamicBatch) {
  Graph g = test::make_test_lenet5();
  export_onnx(g, path("lenet.onnx"));
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(read_file(path("lenet.onnx"))));
  EXPECT_NO_THROW(onnx::checker::check_model(m));
  EXPECT_EQ(m.ir_version(), 7);
  ASSERT_EQ(m.opset_import_size(), 1);
  EXPECT_EQ(m.opset_import(0).version(), 13);
  ASSERT_EQ(m.graph().input_size(), 1);
  const auto& shape = m.graph().input(0).type().tensor_type().shape();
  ASSERT_EQ(shape.dim_size(), 4);
  EXPECT_EQ(shape.dim(0).dim_param(), "N");
  EXPECT_EQ(shape.dim(1).dim_value(), 1);
  // Normalization first: Sub(mean) then Div(std), exactly as the executor applies it.
  ASSERT_GE(m.graph().node_size(), 3);
  EXPECT_EQ(m.graph().node(0).op_type(), "Sub");
  EXPECT_EQ(m.graph().node(1).op_type(), "Div");
  EXPECT_EQ(m.graph().node(2).op_type(), "Conv");
  EXPECT_EQ(m.graph().node(2).input(0), m.graph().node(1).output(0));
  for (const auto& t : m.graph().initializer()) EXPECT_EQ(t.data_type(), onnx::TensorProto::FLOAT) << t.name();
  // No temporary left behind in the folder.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) { (void)e; ++files; }
  EXPECT_EQ(files, 1);
}

TEST_F(OnnxIoTest, ExportedEveryOpModelPassesTheChecker) {
  Graph g = test::make_test_resblock();
  export_onnx(g, path("res.onnx"));
  EXPECT_NO_THROW(onnx::checker::check_model(path("res.onnx")));
}

}  // namespace
}  // namespace shrink::ir
