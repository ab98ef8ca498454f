// Layer Analysis and exploration on the shared 2-epoch LeNet-5 (tests/quantize/lenet5_fixture.h),
// measured on the first few hundred val images.
#include "quantize/sweep.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "compress/executor.h"
#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "compress/train.h"
#include "quantize/quantize_model.h"
#include "quantize/simulate.h"
#include "tests/quantize/lenet5_fixture.h"
#include "tests/util/html_render.h"

namespace shrink::quant {
namespace {

const ir::Dataset& val(int64_t n) {
  static std::map<int64_t, ir::Dataset> cache;
  auto it = cache.find(n);
  if (it == cache.end()) it = cache.emplace(n, ir::load_dataset("fashion-mnist", ir::Split::Val, n)).first;
  return it->second;
}

const SweepRecord* find(const SweepResult& s, const std::string& layer, const std::string& target,
                        const std::string& method, int bits) {
  for (const auto& r : s.records)
    if (r.layer == layer && r.target == target && r.method == method && r.bits == bits) return &r;
  return nullptr;
}

TEST(SweepTest, LeNet5BitsTwoFourEightGivesEveryRecord) {
  SweepOptions o;
  o.fixed_bits = o.kmeans_bits = {2, 4, 8};
  o.calibration = 300;
  o.workers = 2;
  SweepResult s = sweep_layers(lenet5(), val(300), o);
  const std::vector<std::string> layers = {"conv1", "conv2", "fc1", "fc2"};
  EXPECT_EQ(s.layers, layers);
  ASSERT_EQ(s.records.size(), 48u);  // 4 layers x 2 targets x 2 methods x 3 widths
  EXPECT_EQ(s.images, 300);
  EXPECT_GT(s.baseline_accuracy, 0.8);
  std::set<std::string> keys;
  for (const auto& r : s.records) {
    keys.insert(r.key());
    EXPECT_GE(r.accuracy, 0.0);
    EXPECT_LE(r.accuracy, 1.0);
    EXPECT_GT(r.loss, 0.0);
    EXPECT_GT(r.seconds, 0.0);
    if (r.method == "fixed") {
      ASSERT_TRUE(r.fl.has_value()) << r.key();
      EXPECT_EQ(*r.il, r.bits - 1 - *r.fl) << r.key();
    }
    if (r.method == "kmeans" && r.target == "activations") {
      EXPECT_FALSE(r.fl.has_value()) << r.key();
    }
  }
  EXPECT_EQ(keys.size(), 48u);
  for (const auto& l : layers)
    for (const char* t : {"weights", "activations"})
      for (const char* m : {"fixed", "kmeans"}) {
        const SweepRecord *b2 = find(s, l, t, m, 2), *b4 = find(s, l, t, m, 4), *b8 = find(s, l, t, m, 8);
        ASSERT_TRUE(b2 && b4 && b8);
        // More bits: less quantization noise, and 8 bits costs (almost) nothing.
        EXPECT_LT(b2->sqnr_db, b4->sqnr_db) << l << " " << t << " " << m;
        EXPECT_LT(b4->sqnr_db, b8->sqnr_db) << l << " " << t << " " << m;
        EXPECT_GE(b8->accuracy, s.baseline_accuracy - 0.01) << l << " " << t << " " << m;
      }
  // Two-bit logits (fc2's output) lose far more than 8-bit ones.
  EXPECT_LT(find(s, "fc2", "activations", "fixed", 2)->accuracy, s.baseline_accuracy - 0.05);

  // The report of this sweep renders in a real browser as charts, not as a blank page.
  const auto dir = std::filesystem::temp_directory_path() / "shrink-sweep-test-report";
  std::filesystem::remove_all(dir);
  write_sweep_report(dir.string(), s, nullptr);
  testutil::RenderStats st = testutil::render_html((dir / "report.html").string(), (dir / "report.png").string());
  EXPECT_GT(st.non_white, 0.02);
  EXPECT_GT(st.colors, 5);
  std::filesystem::remove_all(dir);
}

TEST(SweepTest, CacheAndWorkersDoNotChangeTheNumbers) {
  SweepOptions o;
  o.fixed_bits = o.kmeans_bits = {3};
  o.calibration = 200;
  o.workers = 1;
  SweepResult cached = sweep_layers(lenet5(), val(200), o);
  o.cache = false;
  o.workers = 2;
  SweepResult full = sweep_layers(lenet5(), val(200), o);
  ASSERT_EQ(cached.records.size(), 16u);
  ASSERT_EQ(full.records.size(), cached.records.size());
  EXPECT_TRUE(cached.cached);
  EXPECT_FALSE(full.cached);
  EXPECT_DOUBLE_EQ(full.baseline_accuracy, cached.baseline_accuracy);
  for (size_t i = 0; i < full.records.size(); ++i) {
    const SweepRecord &a = cached.records[i], &b = full.records[i];
    EXPECT_EQ(a.key(), b.key());
    EXPECT_DOUBLE_EQ(a.accuracy, b.accuracy) << a.key();
    EXPECT_NEAR(a.loss, b.loss, 1e-6) << a.key();
    EXPECT_NEAR(a.sqnr_db, b.sqnr_db, 1e-6) << a.key();
    EXPECT_EQ(a.fl, b.fl) << a.key();
  }
}

TEST(SweepTest, WeightPointEqualsTheModelWithThatLayerQuantized) {
  // An independent measurement of one point: conv2's weights at 4 bits (MSE format) written
  // into the model, evaluated the ordinary way.
  SweepOptions o;
  o.targets = {"weights"};
  o.methods = {"fixed"};
  o.fixed_bits = {4};
  o.layers = {"conv2"};
  SweepResult s = sweep_layers(lenet5(), val(200), o);
  ASSERT_EQ(s.records.size(), 1u);
  ir::Graph g = lenet5();
  ir::Tensor& w = *g.find("conv2")->tensor("weight");
  FormatChoice c = choose_format(w.data.data(), w.numel(), 4);
  fake_quantize(w.data.data(), w.numel(), c.format, w.data.data());
  Executor ex(g);
  EvalResult e = evaluate(ex, val(200));
  EXPECT_EQ(s.records[0].fl, c.format.fl);
  EXPECT_NEAR(s.records[0].accuracy, e.accuracy, 1e-12);
  EXPECT_NEAR(s.records[0].loss, e.loss, 1e-5);
  EXPECT_NEAR(s.records[0].sqnr_db, c.sqnr_db, 1e-9);
}

TEST(SweepTest, ResumeSkipsMeasuredPoints) {
  SweepOptions o;
  o.targets = {"weights"};
  o.methods = {"fixed"};
  o.fixed_bits = {2, 8};
  SweepResult first = sweep_layers(lenet5(), val(100), o);
  ASSERT_EQ(first.records.size(), 8u);
  // Pretend the first three were measured before an interruption (one with a marker value).
  o.done.assign(first.records.begin(), first.records.begin() + 3);
  o.done[0].accuracy = 0.123;
  int calls = 0;
  o.on_record = [&calls](const SweepRecord&) { ++calls; };
  SweepResult resumed = sweep_layers(lenet5(), val(100), o);
  EXPECT_EQ(calls, 5);
  ASSERT_EQ(resumed.records.size(), 8u);
  EXPECT_EQ(resumed.records[0].accuracy, 0.123);  // kept, not remeasured
  for (size_t i = 1; i < 8; ++i) EXPECT_DOUBLE_EQ(resumed.records[i].accuracy, first.records[i].accuracy);
}

TEST(SweepTest, BadOptions) {
  auto bad = [](auto edit, const std::string& what) {
    SweepOptions o;
    edit(o);
    try {
      check_sweep_options(o);
      ADD_FAILURE() << "no error for " << what;
    } catch (const BadInput& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  bad([](SweepOptions& o) { o.fixed_bits = {1}; }, "--bits 1");
  bad([](SweepOptions& o) { o.fixed_bits = {8, 17}; }, "--bits 17");
  bad([](SweepOptions& o) { o.kmeans_bits = {0}; }, "--bits 0");
  bad([](SweepOptions& o) { o.kmeans_bits = {9}; }, "--bits 9");
  bad([](SweepOptions& o) { o.targets = {"weights", "biases"}; }, "--targets biases");
  bad([](SweepOptions& o) { o.methods = {"binary"}; }, "--methods binary");
  bad([](SweepOptions& o) { o.fl_method = "median"; }, "median");
  SweepOptions o;
  o.layers = {"conv9"};
  EXPECT_THROW(sweep_layers(lenet5(), val(100), o), BadInput);
}

TEST(ExploreTest, FindsAMixedPrecisionConfigSmallerThanUniform8WithinBudget) {
  const ir::Dataset& data = val(1000);
  SweepOptions so;
  so.methods = {"fixed"};
  so.fixed_bits = {2, 4, 6, 8};
  so.workers = 2;
  SweepResult s = sweep_layers(lenet5(), data, so);
  ExploreOptions eo;
  eo.max_drop = 0.01;
  eo.bits = {2, 4, 6, 8};
  ExploreResult e = explore(lenet5(), data, s, eo);
  ASSERT_TRUE(e.uniform8.has_value());
  ASSERT_TRUE(e.chosen.has_value());
  const MixedConfig& u8 = e.evaluated[*e.uniform8];
  const MixedConfig& best = e.evaluated[*e.chosen];
  EXPECT_TRUE(best.within_budget);
  EXPECT_GE(best.accuracy, e.baseline_accuracy - 0.01);
  EXPECT_LT(best.weight_bytes, u8.weight_bytes);
  EXPECT_FALSE(e.pareto.empty());
  EXPECT_NE(std::find(e.pareto.begin(), e.pareto.end(), *e.chosen), e.pareto.end());
  // Bytes follow the widths: packed weights plus int32 biases.
  int64_t bytes = 0;
  for (const auto& [layer, bits] : best.weight_bits) {
    const ir::Node* n = lenet5().find(layer);
    bytes += (n->tensor("weight")->numel() * bits + 7) / 8 + 4 * n->tensor("bias")->numel();
  }
  EXPECT_EQ(best.weight_bytes, bytes);
  // The configuration file reproduces the measured model exactly.
  const auto path = std::filesystem::temp_directory_path() / "shrink-explore-test.yaml";
  ir::write_file_atomic(path.string(), e.chosen_yaml());
  QuantizeOptions qo;
  qo.layers = load_layer_config(path.string());
  std::filesystem::remove(path);
  ir::Graph q = quantize_model(lenet5(), data, qo);
  Executor ex(q);
  Simulation sim(ex, SimMode::Exact);
  EXPECT_DOUBLE_EQ(evaluate(ex, data).accuracy, best.accuracy);
  std::printf("exploration: %s, %lld bytes, accuracy %.4f; uniform 8: %lld bytes, %.4f; fp32 %.4f; %zu configs\n",
              best.label.c_str(), static_cast<long long>(best.weight_bytes), best.accuracy,
              static_cast<long long>(u8.weight_bytes), u8.accuracy, e.baseline_accuracy, e.evaluated.size());
}

}  // namespace
}  // namespace shrink::quant
