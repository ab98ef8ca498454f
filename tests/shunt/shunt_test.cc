// Shunt connections (shunt/): block discovery, block removal, Knowledge Quotient, shunt shapes for
// every architecture, feature-matching training of a shunt, the automatic choice, bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "compress/executor.h"
#include "compress/ir/analyzer.h"
#include "compress/ir/dataset.h"
#include "compress/ir/error.h"
#include "compress/train.h"
#include "compress/zoo.h"
#include "tests/util/zoo_models.h"
#include "shunt/arch.h"
#include "shunt/blocks.h"
#include "shunt/shunt.h"

namespace shrink::shunt {
namespace {

/// A zoo model with non-trivial BatchNorm statistics and gamma / beta (no training needed).
ir::Graph zoo_model(const std::string& name) { return testutil::zoo_with_batchnorm_stats(name, 3); }

/// The zoo's mobilenetv2 trained for one epoch on 1024 images (a model whose blocks matter).
const ir::Graph& trained_mobilenet() {
  static const ir::Graph g = [] {
    Executor ex(zoo::make("mobilenetv2", {}));
    TrainOptions o;
    o.epochs = 1;
    o.lr = 3e-3;
    o.progress = false;
    train(ex, ir::load_dataset("fashion-mnist", ir::Split::Train, 1024), o);
    return ex.sync_to_graph();
  }();
  return g;
}

const ir::Dataset& val(int64_t n = 200) {
  static const ir::Dataset d = ir::load_dataset("fashion-mnist", ir::Split::Val, 200);
  static const ir::Dataset small = ir::load_dataset("fashion-mnist", ir::Split::Val, 64);
  return n <= 64 ? small : d;
}

torch::Tensor run(const ir::Graph& g, const torch::Tensor& x) {
  Executor ex(g);
  ex.set_training(false);
  torch::NoGradGuard no_grad;
  return ex.forward(x);
}

/// Zeroes the last BatchNorm of a residual block's branch: the branch then adds exactly 0.
ir::Graph zero_branch(ir::Graph g, const Block& b) {
  ir::Node& bn = g.at(b.branch);
  EXPECT_EQ(bn.op, ir::Op::BatchNorm);
  for (const char* key : {"weight", "bias"})
    for (int64_t i = 0; i < bn.tensor(key)->numel(); ++i) bn.tensor(key)->at(i) = 0.0f;
  return g;
}

TEST(ShuntBlocks, MobileNetV2BlocksFollowTheZoosNames) {
  const ir::Graph g = zoo_model("mobilenetv2");
  const std::vector<Block> blocks = find_blocks(g);
  ASSERT_GE(blocks.size(), 18u);
  for (int k = 1; k <= 17; ++k) EXPECT_EQ(blocks[static_cast<size_t>(k)].name, "block" + std::to_string(k));
  EXPECT_EQ(blocks[0].name, "conv1");
  EXPECT_EQ(blocks[0].entry, ir::Graph::kInput);
  std::set<int> residual;
  for (const auto& b : blocks)
    if (b.residual()) residual.insert(b.id);
  EXPECT_EQ(residual, (std::set<int>{3, 5, 6, 8, 9, 10, 12, 13, 15, 16}));
  // Every node belongs to exactly one block, so the blocks' MACs add up to the model's.
  int64_t macs = 0;
  size_t nodes = 0;
  for (const auto& b : blocks) {
    macs += b.macs;
    nodes += b.nodes.size();
  }
  EXPECT_EQ(macs, ir::analyze(g, {}).macs);
  EXPECT_EQ(nodes, g.nodes.size());
  // Blocks chain: each block's entry is the previous block's exit.
  for (size_t i = 1; i < blocks.size(); ++i) EXPECT_EQ(blocks[i].entry, blocks[i - 1].exit);
  EXPECT_EQ(blocks[5].add, "block5.add");
  EXPECT_EQ(blocks[5].branch, "block5.project.bn");
  EXPECT_EQ(blocks[4].in_shape, (ir::Shape{16, 28, 28}));
  EXPECT_EQ(blocks[4].out_shape, (ir::Shape{16, 14, 14}));
}

TEST(ShuntBlocks, ResNet8HasOneIdentityResidualBlock) {
  const std::vector<Block> blocks = find_blocks(zoo_model("resnet8"));
  std::vector<std::string> residual;
  for (const auto& b : blocks)
    if (b.residual()) residual.push_back(b.name);
  // block1 adds its input; blocks 2 and 3 add a projected shortcut, which is not an identity.
  EXPECT_EQ(residual, std::vector<std::string>{"block1"});
  const Block& b1 = *std::find_if(blocks.begin(), blocks.end(), [](const Block& b) { return b.name == "block1"; });
  EXPECT_EQ(b1.exit, "block1.relu");  // the ReLU after the Add belongs to the block
  EXPECT_EQ(b1.add, "block1.add");
}

TEST(ShuntBlocks, RemovingABlockMakesItTheIdentity) {
  const ir::Graph g = zoo_model("mobilenetv2");
  const std::vector<Block> blocks = find_blocks(g);
  const Block& b = blocks[9];
  const ir::Graph removed = remove_block(g, b);
  for (const auto& name : b.nodes) EXPECT_EQ(removed.find(name), nullptr) << name;
  EXPECT_EQ(removed.nodes.size(), g.nodes.size() - b.nodes.size());
  // block10 now reads block8's output directly.
  EXPECT_EQ(removed.at("block10.expand").inputs[0], "block8.add");
  // With the branch zeroed the original computes the same function.
  torch::Tensor x = torch::rand({4, 1, 28, 28});
  torch::Tensor a = run(zero_branch(g, b), x), c = run(removed, x);
  EXPECT_TRUE(torch::allclose(a, c, 1e-5, 1e-5)) << (a - c).abs().max().item<float>();
  {  // and the block did something: its output differs from its input
    Executor ex(g);
    ex.set_training(false);
    torch::NoGradGuard no_grad;
    auto v = ex.forward_with(x, {b.entry, b.exit});
    EXPECT_GT((v.at(b.exit) - v.at(b.entry)).abs().max().item<float>(), 1e-2);
  }
  EXPECT_THROW(remove_block(g, blocks[4]), BadInput);      // block4 has no residual Add
}

TEST(ShuntKq, ABlockWhoseBranchIsZeroedHasKqZero) {
  const ir::Graph& base = trained_mobilenet();
  const std::vector<Block> blocks = find_blocks(base);
  const ir::Graph g = zero_branch(base, blocks[6]);
  const KqTable t = knowledge_quotients(g, val());
  ASSERT_EQ(t.rows.size(), 10u);
  EXPECT_GT(t.accuracy, 0);
  EXPECT_EQ(t.images, 200);
  bool other_nonzero = false;
  for (const auto& row : t.rows) {
    EXPECT_DOUBLE_EQ(row.kq, 1.0 - row.accuracy_without / t.accuracy);
    if (row.block.id == 6) {
      EXPECT_EQ(row.kq, 0.0);
      EXPECT_EQ(row.accuracy_without, t.accuracy);
    } else if (row.kq != 0.0) {
      other_nonzero = true;
    }
  }
  EXPECT_TRUE(other_nonzero) << kq_to_table(t);  // the measurement is not trivially 0
  const nlohmann::json j = kq_to_json(t);
  ASSERT_EQ(j["blocks"].size(), 10u);
  EXPECT_EQ(j["blocks"][2]["id"], 6);
  EXPECT_EQ(j["blocks"][2]["name"], "block6");
  EXPECT_EQ(j["blocks"][2]["macs"], blocks[6].macs);
}

TEST(ShuntArch, EveryArchitectureMapsTheRunsShapes) {
  const ir::Graph g = zoo_model("mobilenetv2");
  const std::vector<Block> blocks = find_blocks(g);
  const int64_t macs = ir::analyze(g, {}).macs;
  torch::Tensor x = torch::rand({2, 1, 28, 28});
  for (const auto& [first, last] : std::vector<std::pair<int, int>>{{8, 10}, {5, 13}, {11, 16}, {2, 3}}) {
    const shunt::Run r = make_run(blocks, first, last);
    EXPECT_EQ(r.in_shape, blocks[static_cast<size_t>(first)].in_shape);
    EXPECT_EQ(r.out_shape, blocks[static_cast<size_t>(last)].out_shape);
    for (const auto& arch : arch_names()) {
      ShuntSpec s;
      s.arch = arch;
      const Inserted ins = insert_shunt(g, r, s);
      SCOPED_TRACE(arch + " over " + std::to_string(first) + "-" + std::to_string(last));
      EXPECT_EQ(ins.graph.shape_of(ins.output), r.out_shape);
      EXPECT_EQ(ins.graph.at(ins.nodes.front()).inputs[0], r.entry);
      for (const auto& name : r.nodes) EXPECT_EQ(ins.graph.find(name), nullptr) << name;
      EXPECT_EQ(ins.macs, shunt_macs(r, s));
      EXPECT_LT(ins.macs, r.macs);
      EXPECT_EQ(ir::analyze(ins.graph, {}).macs, macs - r.macs + ins.macs);
      EXPECT_EQ(run(ins.graph, x).sizes(), (std::vector<int64_t>{2, 10}));
      // Equal shapes: arch1 and arch2 keep a residual Add.
      bool has_add = ins.graph.find(ins.nodes.front().substr(0, ins.nodes.front().find('.')) + ".add") != nullptr;
      EXPECT_EQ(has_add, r.in_shape == r.out_shape && (arch == "arch1" || arch == "arch2"));
    }
  }
  // Stride 4 (28x28 -> 7x7) with channel changes.
  const shunt::Run wide = make_run(blocks, 2, 10);
  EXPECT_EQ(wide.stride, 4);
  EXPECT_EQ(insert_shunt(g, wide, {}).graph.shape_of("shunt.project.bn"), (ir::Shape{32, 7, 7}));
}

TEST(ShuntArch, BadRunsAndModelsAreRefused) {
  const ir::Graph g = zoo_model("mobilenetv2");
  const std::vector<Block> blocks = find_blocks(g);
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const BadInput& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(message([&] { make_run(blocks, 8, 99); }).find("do not exist"), std::string::npos);
  EXPECT_NE(message([&] { make_run(blocks, 10, 8); }).find("comes after"), std::string::npos);
  EXPECT_NE(message([&] { make_run(blocks, 0, 3); }).find("input"), std::string::npos);
  // block 20 is the flatten: {C, H, W} -> {F} has no shunt.
  EXPECT_NE(message([&] { make_run(blocks, 15, 20); }).find("no shunt fits"), std::string::npos);
  EXPECT_NE(message([&] { parse_block_range(blocks, "block8-block99"); }).find("no block 'block99'"), std::string::npos);
  EXPECT_EQ(parse_block_range(blocks, "block8-block10"), (std::pair<int, int>{8, 10}));
  EXPECT_EQ(parse_block_range(blocks, "8-10"), (std::pair<int, int>{8, 10}));
  EXPECT_EQ(parse_block_range(blocks, "9"), (std::pair<int, int>{9, 9}));
  EXPECT_NE(message([&] { residual_blocks(find_blocks(zoo::make("lenet5", {})), "lenet5"); }).find("no residual blocks"),
            std::string::npos);
  EXPECT_NE(message([&] { knowledge_quotients(zoo::make("lenet5", {}), val(64)); }).find("no residual blocks"),
            std::string::npos);
  ShuntSpec s;
  s.arch = "arch9";
  EXPECT_NE(message([&] { check_spec(s); }).find("arch1, arch2, arch3, arch4"), std::string::npos);
}

TEST(ShuntTrain, FeatureMatchingReducesTheShuntsError) {
  const ir::Graph& g = trained_mobilenet();
  const shunt::Run r = make_run(find_blocks(g), 8, 10);
  const ir::Dataset train_set = ir::load_dataset("fashion-mnist", ir::Split::Train, 512);
  ShuntOptions o;
  o.shunt_train.epochs = 10;
  o.shunt_train.lr = 3e-3;
  o.shunt_train.progress = false;
  o.finetune.epochs = 0;
  const ShuntResult res = shunt_model(g, r, o, train_set, val(64));
  EXPECT_GT(res.mse_before, 0);
  // The shunt starts as the identity (zero last gamma): its error is the run's whole residual.
  EXPECT_LT(res.mse_after, 0.85 * res.mse_before) << res.mse_before << " -> " << res.mse_after;
  // Only the shunt trained: every other tensor is bit-identical to the original's.
  for (const auto& n : res.model.nodes) {
    if (n.name.rfind("shunt.", 0) == 0) continue;
    const ir::Node& o0 = g.at(n.name);
    for (const auto& [key, t] : n.tensors) ASSERT_EQ(t.data, o0.tensor(key)->data) << n.name << "/" << key;
  }
  EXPECT_LT(res.macs_after, res.macs_before);
  EXPECT_GE(res.accuracy_original, 0);
  EXPECT_DOUBLE_EQ(res.accuracy_kd, res.accuracy_shunt_trained);  // no phase 2
}

TEST(ShuntAuto, ChoosesTheRunSavingMostMacsUnderTheKqBound) {
  const ir::Graph g = zoo_model("mobilenetv2");
  const std::vector<Block> blocks = find_blocks(g);
  KqTable t;
  for (const auto& b : blocks)
    if (b.residual()) t.rows.push_back({b, 0, (b.id >= 8 && b.id <= 10) ? 0.01 : 0.5});
  const ShuntSpec s;
  const shunt::Run r = choose_run(g, t, s, 0.05);
  // Only blocks 8-10 among the residual ones fit the bound; the stage's first block 7 may join.
  EXPECT_GE(r.first, 7);
  EXPECT_LE(r.first, 8);
  EXPECT_EQ(r.last, 10);
  EXPECT_NEAR(run_kq(t, r), 0.03, 1e-12);
  const shunt::Run core = make_run(blocks, 8, 10);
  EXPECT_GE(r.macs - shunt_macs(r, s), core.macs - shunt_macs(core, s));
  // A looser bound allows a longer run with more MACs saved.
  const shunt::Run loose = choose_run(g, t, s, 1.2);
  EXPECT_GT(loose.macs - shunt_macs(loose, s), r.macs - shunt_macs(r, s));
  EXPECT_LE(run_kq(t, loose), 1.2);
  EXPECT_THROW(choose_run(g, t, s, 0.001), BadInput);
}

}  // namespace
}  // namespace shrink::shunt
