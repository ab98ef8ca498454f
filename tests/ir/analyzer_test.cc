// Analyzer: counts on known networks, memory at bit widths, peak activation by hand, the DRAM
// model of docs/analyzer.md at its two extremes and in between, energy, JSON and table.
#include "compress/ir/analyzer.h"

#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "compress/ir/error.h"
#include "tests/ir/test_graphs.h"

namespace shrink::ir {
namespace {

using test::make_test_lenet5;
using test::make_test_resblock;

constexpr double kEnergyTol = 1e-9;  // uJ; the energy is a sum of exact products

AnalyzeOptions opts(int bits, double sram_kib = 256) {
  AnalyzeOptions o;
  o.bits = bits;
  o.sram_kib = sram_kib;
  return o;
}

const LayerAnalysis& layer(const Analysis& a, const std::string& name) {
  for (const auto& l : a.layers)
    if (l.name == name) return l;
  throw std::runtime_error("no layer " + name);
}

/// LeNet-300-100 on {1, 28, 28}: flatten, fc1 784->300, relu, fc2 300->100, relu, fc3 100->10.
Graph make_lenet300() {
  test::TestRng rng(3);
  Graph g;
  g.meta.input_shape = {1, 28, 28};
  g.add(test::test_node("flatten", Op::Flatten, {Graph::kInput}));
  g.add(test::test_linear("fc1", "flatten", 784, 300, rng));
  g.add(test::test_node("relu1", Op::ReLU, {"fc1"}));
  g.add(test::test_linear("fc2", "relu1", 300, 100, rng));
  g.add(test::test_node("relu2", Op::ReLU, {"fc2"}));
  g.add(test::test_linear("fc3", "relu2", 100, 10, rng));
  g.outputs = {"fc3"};
  g.infer_shapes();
  return g;
}

TEST(Analyzer, CaffeLeNet5CountsExactly) {
  const Analysis a = analyze(make_test_lenet5(), opts(32));
  EXPECT_EQ(a.macs, 2293000);
  EXPECT_EQ(a.params, 431080);
  ASSERT_EQ(a.layers.size(), 8u);
  // conv1: 20x24x24 outputs x 1x5x5; conv2: 50x8x8 x 20x5x5; fc1: 800x500; fc2: 500x10.
  EXPECT_EQ(layer(a, "conv1").macs, 288000);
  EXPECT_EQ(layer(a, "conv2").macs, 1600000);
  EXPECT_EQ(layer(a, "fc1").macs, 400000);
  EXPECT_EQ(layer(a, "fc2").macs, 5000);
  EXPECT_EQ(layer(a, "pool1").macs, 0);
  EXPECT_EQ(layer(a, "relu1").macs, 0);
  EXPECT_EQ(layer(a, "conv1").params, 520);
  EXPECT_EQ(layer(a, "conv2").params, 25050);
  EXPECT_EQ(layer(a, "fc1").params, 400500);
  EXPECT_EQ(layer(a, "fc2").params, 5010);
  EXPECT_EQ(layer(a, "conv1").out_shape, (Shape{20, 24, 24}));
  EXPECT_EQ(layer(a, "conv1").op, "Conv2d");
}

TEST(Analyzer, LeNet300100Counts) {
  const Analysis a = analyze(make_lenet300(), opts(32));
  EXPECT_EQ(a.params, 266610);
  EXPECT_EQ(a.macs, 266200);
}

TEST(Analyzer, DepthwiseAndBatchNormCounts) {
  const Analysis a = analyze(make_test_resblock(), opts(8));
  // dw: 8x8x8 outputs, each 1 input channel (8 / groups 8) x 3x3.
  EXPECT_EQ(layer(a, "dw").macs, 8 * 8 * 8 * 9);
  EXPECT_EQ(layer(a, "dw").params, 8 * 9 + 8);
  // conv1 (no bias): 8x8x8 outputs x 3x3x3.
  EXPECT_EQ(layer(a, "conv1").macs, 512 * 27);
  EXPECT_EQ(layer(a, "conv1").params, 8 * 27);
  EXPECT_EQ(layer(a, "bn1").params, 4 * 8);
  EXPECT_EQ(layer(a, "bn1").macs, 0);
  EXPECT_EQ(a.params, make_test_resblock().param_count());
}

TEST(Analyzer, NonzeroParamsCountZerosAndMasks) {
  Graph g = make_test_lenet5();
  Node& c1 = g.at("conv1");
  for (float& v : c1.tensors["weight"].data) v = 1.0f;
  for (int i = 0; i < 100; ++i) c1.tensors["weight"].at(i) = 0.0f;
  for (float& v : c1.tensors["bias"].data) v = 0.5f;
  Node& f2 = g.at("fc2");
  for (float& v : f2.tensors["weight"].data) v = 1.0f;
  for (float& v : f2.tensors["bias"].data) v = 1.0f;
  Tensor mask({10, 500});
  for (int64_t i = 1000; i < mask.numel(); ++i) mask.at(i) = 1.0f;  // first 1,000 masked out
  f2.tensors["weight_mask"] = mask;
  const Analysis a = analyze(g, opts(8));
  EXPECT_EQ(layer(a, "conv1").nonzero_params, 500 - 100 + 20);
  EXPECT_EQ(layer(a, "fc2").nonzero_params, 4000 + 10);
  EXPECT_EQ(layer(a, "fc2").params, 5010);  // masks are not parameters
}

TEST(Analyzer, WeightAndActivationBytesAtBitWidths) {
  const Analysis a8 = analyze(make_test_lenet5(), opts(8));
  const Analysis a4 = analyze(make_test_lenet5(), opts(4));
  EXPECT_EQ(a8.weight_bytes, 431080);
  EXPECT_EQ(a4.weight_bytes, 215540);
  EXPECT_EQ(layer(a4, "conv1").weight_bytes, 260);
  EXPECT_EQ(layer(a8, "conv1").activation_bytes, 11520);  // 20x24x24 at 1 byte
  EXPECT_EQ(layer(a4, "conv1").activation_bytes, 5760);
  EXPECT_EQ(layer(analyze(make_test_lenet5(), opts(32)), "conv1").activation_bytes, 46080);

  // Rounding up: a Linear 2->1 with bias has 3 parameters: 1.5 bytes at 4 bits -> 2.
  test::TestRng rng(5);
  Graph g;
  g.meta.input_shape = {2};
  g.add(test::test_linear("fc", Graph::kInput, 2, 1, rng));
  g.outputs = {"fc"};
  g.infer_shapes();
  EXPECT_EQ(analyze(g, opts(4)).weight_bytes, 2);
  EXPECT_EQ(analyze(g, opts(3)).weight_bytes, 2);  // 9 bits
  EXPECT_EQ(analyze(g, opts(8)).weight_bytes, 3);
  EXPECT_EQ(analyze(g, opts(1)).activation_bytes, 1);
}

TEST(Analyzer, PeakActivationOfResidualGraphByHand) {
  // make_test_resblock at 8 bits (1 byte per element). Sizes: input 3x8x8 = 192; conv1, bn1,
  // relu1, conv2, bn2, add, relu2, dw, bn3 8x8x8 = 512 each; cat 16x8x8 = 1024; pool 256;
  // gap 16; flatten 16; fc 10; softmax 10. A tensor is live from its step to its last reader:
  //   step 0 conv1:   input + conv1                   = 704
  //   step 4 bn2:     relu1 (until add) + conv2 + bn2 = 1536
  //   step 5 add:     relu1 + bn2 + add               = 1536
  //   step 8 bn3:     relu2 (until cat) + dw + bn3    = 1536
  //   step 9 cat:     relu2 + bn3 + cat               = 512 + 512 + 1024 = 2048  <- peak
  //   step 10 pool:   cat + pool                      = 1280
  EXPECT_EQ(analyze(make_test_resblock(), opts(8)).peak_activation_bytes, 2048);
  EXPECT_EQ(analyze(make_test_resblock(), opts(32)).peak_activation_bytes, 8192);
  // LeNet-5 at 8 bits: the peak is conv1's step, input 784 + conv1 11,520 = 12,304, or
  // pool1's step, conv1 11,520 + pool1 2,880 = 14,400.
  EXPECT_EQ(analyze(make_test_lenet5(), opts(8)).peak_activation_bytes, 14400);
}

TEST(Analyzer, DramTrafficAtLargeZeroAndMediumSram) {
  // Everything fits: weights once, the network input read once, the output written once.
  const Analysis big = analyze(make_test_lenet5(), opts(8, 1e6));
  EXPECT_EQ(big.dram_bytes, 431080 + 784 + 10);
  EXPECT_EQ(layer(big, "conv1").dram_bytes, 520 + 784);
  EXPECT_EQ(layer(big, "pool1").dram_bytes, 0);

  // No SRAM: every feature map is written once and read by its consumer, a conv / linear
  // re-reads its input once per output channel (a tile of one channel).
  //   writes: 11520 + 2880 + 3200 + 800 + 800 + 500 + 500 + 10 = 20,210
  //   reads:  784*20 + 11520 + 2880*50 + 3200 + 800 + 800*500 + 500 + 500*10 = 580,700
  const Analysis none = analyze(make_test_lenet5(), opts(8, 0));
  EXPECT_EQ(none.dram_bytes, 431080 + 20210 + 580700);

  // 256 KiB = 262,144 bytes: only fc1 (400,500 weight bytes) does not fit. It runs in tiles of
  // floor(262144 / 801) = 327 output channels -> 2 tiles, so it reads flatten twice; flatten's
  // and fc1's outputs go through DRAM (fc1 does not fit); relu1 -> fc2 stays on chip.
  const Analysis mid = analyze(make_test_lenet5(), opts(8, 256));
  EXPECT_EQ(layer(mid, "fc1").dram_bytes, 400500 + 2 * 800 + 500);
  EXPECT_EQ(layer(mid, "flatten").dram_bytes, 800);
  EXPECT_EQ(layer(mid, "relu1").dram_bytes, 500);
  EXPECT_EQ(layer(mid, "fc2").dram_bytes, 5010 + 10);
  EXPECT_EQ(mid.dram_bytes, 431080 + 784 + 800 + 1600 + 500 + 500 + 10);
}

TEST(Analyzer, DramTrafficGrowsAsSramShrinks) {
  for (const Graph& g : {make_test_lenet5(), make_test_resblock(), make_lenet300()}) {
    int64_t prev = -1;
    for (double kib : {4096.0, 1024.0, 256.0, 64.0, 16.0, 4.0, 1.0, 0.25, 0.0}) {
      const int64_t d = analyze(g, opts(8, kib)).dram_bytes;
      EXPECT_GE(d, prev) << g.meta.name << " at " << kib << " KiB";
      prev = d;
    }
    EXPECT_GT(analyze(g, opts(8, 0)).dram_bytes, analyze(g, opts(8, 4096)).dram_bytes);
  }
}

TEST(Analyzer, EnergyIsMacsTimesPjPlusDramBitsTimesPj) {
  const Analysis a = analyze(make_test_lenet5(), opts(8, 1e6));
  // 2,293,000 MACs x 1 pJ + 431,874 bytes x 8 x 10 pJ = 36,842,920 pJ.
  EXPECT_NEAR(a.energy_uj, 36.84292, kEnergyTol);
  EXPECT_NEAR(layer(a, "conv1").energy_uj, (288000 + 1304 * 80) * 1e-6, kEnergyTol);
  AnalyzeOptions o = opts(8, 1e6);
  o.pj_per_mac = 2.5;
  o.pj_per_dram_bit = 0;
  EXPECT_NEAR(analyze(make_test_lenet5(), o).energy_uj, 2293000 * 2.5e-6, kEnergyTol);
  double sum = 0;
  for (const auto& l : a.layers) sum += l.energy_uj;
  EXPECT_NEAR(a.energy_uj, sum, kEnergyTol);
}

TEST(Analyzer, JsonHasExactlyTheDocumentedKeys) {
  const nlohmann::json j = analysis_to_json(analyze(make_test_lenet5(), opts(8)));
  auto keys = [](const nlohmann::json& o) {
    std::set<std::string> k;
    for (auto it = o.begin(); it != o.end(); ++it) k.insert(it.key());
    return k;
  };
  EXPECT_EQ(keys(j), (std::set<std::string>{"options", "layers", "total"}));
  EXPECT_EQ(keys(j["options"]), (std::set<std::string>{"bits", "sram_kib", "pj_per_mac", "pj_per_dram_bit"}));
  ASSERT_EQ(j["layers"].size(), 8u);
  EXPECT_EQ(keys(j["layers"][0]),
            (std::set<std::string>{"name", "op", "out_shape", "params", "nonzero_params", "macs",
                                   "weight_bytes", "activation_bytes", "dram_bytes", "energy_uj"}));
  EXPECT_EQ(keys(j["total"]),
            (std::set<std::string>{"params", "nonzero_params", "macs", "weight_bytes", "activation_bytes",
                                   "peak_activation_bytes", "dram_bytes", "energy_uj"}));
  EXPECT_EQ(j["total"]["macs"], 2293000);
  EXPECT_EQ(j["total"]["params"], 431080);
  EXPECT_EQ(j["layers"][0]["name"], "conv1");
  EXPECT_EQ(j["layers"][0]["out_shape"], nlohmann::json::array({20, 24, 24}));
  EXPECT_EQ(j["options"]["bits"], 8);
}

TEST(Analyzer, TableIsFixedWidthWithSeparatorsAndTotal) {
  const std::string t = analysis_to_table(analyze(make_test_lenet5(), opts(8)));
  EXPECT_NE(t.find("2,293,000"), std::string::npos) << t;
  EXPECT_NE(t.find("431,080"), std::string::npos) << t;
  EXPECT_NE(t.find("400,500"), std::string::npos) << t;
  std::istringstream in(t);
  std::string line;
  std::vector<std::string> body;
  while (std::getline(in, line))
    if (line.rfind("layer", 0) == 0 || line.rfind("conv", 0) == 0 || line.rfind("pool", 0) == 0 ||
        line.rfind("fc", 0) == 0 || line.rfind("TOTAL", 0) == 0 || line.rfind("relu", 0) == 0 ||
        line.rfind("flatten", 0) == 0)
      body.push_back(line);
  ASSERT_EQ(body.size(), 10u) << t;  // header, 8 layers, TOTAL
  for (const auto& l : body) EXPECT_EQ(l.size(), body[0].size()) << "'" << l << "'\n" << t;
  EXPECT_EQ(body.back().rfind("TOTAL", 0), 0u);
  EXPECT_NE(t.find("peak activation"), std::string::npos);
}

TEST(Analyzer, InfersShapesWhenMissingAndRejectsBadOptions) {
  test::TestRng rng(7);
  Graph g;
  g.meta.input_shape = {4};
  g.add(test::test_linear("fc", Graph::kInput, 4, 3, rng));
  g.outputs = {"fc"};
  const Analysis a = analyze(g, opts(8));  // no infer_shapes() by the caller
  EXPECT_EQ(a.macs, 12);
  EXPECT_EQ(a.layers[0].out_shape, Shape{3});
  EXPECT_THROW(analyze(g, opts(0)), BadInput);
  EXPECT_THROW(analyze(g, opts(8, -1)), BadInput);
  AnalyzeOptions o;
  o.pj_per_mac = -1;
  EXPECT_THROW(analyze(g, o), BadInput);
}

}  // namespace
}  // namespace shrink::ir
