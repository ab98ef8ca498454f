// The pruning sensitivity sweep (prune/sweep.h) on a briefly trained LeNet-5: one record per
// method x layer x level, level 0 equal to the baseline, sizes falling with the level, the
// report files consistent with each other, and the HTML rendered by headless Chromium.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include "compress/executor.h"
#include "compress/ir/dataset.h"
#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "compress/train.h"
#include "compress/zoo.h"
#include "prune/channels.h"
#include "prune/sweep.h"
#include "tests/cli/cli_util.h"  // TempDir
#include "tests/util/html_render.h"

namespace shrink::prune {
namespace {

using nlohmann::json;

/// LeNet-5 trained for one epoch on 1,000 images: accurate enough that pruning visibly hurts.
const ir::Graph& trained_lenet5() {
  static const ir::Graph g = [] {
    torch::manual_seed(3);
    const ir::Dataset train_set = ir::load_dataset("fashion-mnist", ir::Split::Train, 1000);
    ir::Graph m = zoo::make("lenet5", {});
    fill_metadata_from_data(m, train_set);
    Executor ex(m);
    TrainOptions o;
    o.epochs = 1;
    o.progress = false;
    train(ex, train_set, o);
    return ex.sync_to_graph();
  }();
  return g;
}

const ir::Dataset& val200() {
  static const ir::Dataset d = ir::load_dataset("fashion-mnist", ir::Split::Val, 200);
  return d;
}

const std::vector<double> kLevels = {0.0, 0.3, 0.6, 0.9};
const std::vector<std::string> kMethods = {"magnitude", "l1", "apoz"};

/// The sweep every test reads (measured once).
const SweepResult& lenet5_sweep() {
  static const SweepResult s = [] {
    SweepOptions o;
    o.methods = kMethods;
    o.levels = kLevels;
    const SweepResult r = sweep_pruning(trained_lenet5(), val200(), nullptr, o);
    std::cout << "LeNet-5 sweep: " << r.records.size() << " points in " << r.seconds << " s, baseline accuracy "
              << r.baseline.accuracy << "\n";
    return r;
  }();
  return s;
}

const SweepRecord* point(const SweepResult& s, const std::string& method, const std::string& layer, double level) {
  for (const SweepRecord& r : s.records)
    if (r.method == method && r.layer == layer && r.level == level) return &r;
  return nullptr;
}

int count(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

TEST(PruneSweep, OneRecordPerMethodLayerAndLevel) {
  const SweepResult& s = lenet5_sweep();
  const std::vector<std::string> weighted = {"conv1", "conv2", "fc1", "fc2"};
  std::vector<std::string> groups;
  for (const ChannelGroup& grp : analyze_channels(trained_lenet5()).groups)
    if (grp.prunable) groups.push_back(grp.name);
  EXPECT_EQ(groups, (std::vector<std::string>{"conv1", "conv2", "fc1"}));  // fc2 is the classifier
  EXPECT_EQ(s.methods, kMethods);
  EXPECT_EQ(s.images, 200);
  ASSERT_EQ(s.records.size(), kLevels.size() * (weighted.size() + 2 * groups.size()));
  size_t i = 0;  // report order: method, layer, level
  for (const std::string& method : kMethods)
    for (const std::string& layer : method == "magnitude" ? weighted : groups)
      for (double level : kLevels) {
        const SweepRecord& r = s.records[i++];
        EXPECT_EQ(r.method, method);
        EXPECT_EQ(r.layer, layer);
        EXPECT_EQ(r.level, level);
        EXPECT_GE(r.seconds, 0);
      }
  EXPECT_GT(s.baseline.accuracy, 0.5) << "the fixture should be trained";
  EXPECT_EQ(s.baseline.params, s.baseline.nonzero_params);
  // Pruning 90% of a layer's channels or weights hurts somewhere.
  double worst = 1;
  for (const SweepRecord& r : s.records) worst = std::min(worst, r.accuracy);
  EXPECT_LT(worst, s.baseline.accuracy - 0.05);
}

TEST(PruneSweep, LevelZeroEqualsTheBaselineExactly) {
  const SweepResult& s = lenet5_sweep();
  int n = 0;
  for (const SweepRecord& r : s.records) {
    if (r.level != 0) continue;
    ++n;
    EXPECT_EQ(r.accuracy, s.baseline.accuracy) << r.method << " " << r.layer;
    EXPECT_EQ(r.loss, s.baseline.loss) << r.method << " " << r.layer;
    EXPECT_EQ(r.params, r.method == "magnitude" ? s.baseline.nonzero_params : s.baseline.params) << r.method << " " << r.layer;
    EXPECT_EQ(r.macs, s.baseline.macs) << r.method << " " << r.layer;
  }
  EXPECT_EQ(n, 10);
}

TEST(PruneSweep, SizesFallWithTheLevel) {
  const SweepResult& s = lenet5_sweep();
  const ir::Graph& g = trained_lenet5();
  for (const std::string method : {"l1", "apoz"})
    for (const std::string layer : {"conv1", "conv2", "fc1"}) {
      const int64_t channels = g.at(layer).out_channels;
      for (size_t k = 1; k < kLevels.size(); ++k) {
        const SweepRecord* lo = point(s, method, layer, kLevels[k - 1]);
        const SweepRecord* hi = point(s, method, layer, kLevels[k]);
        ASSERT_TRUE(lo && hi);
        // floor(level x channels) removed: more channels at each higher level here.
        ASSERT_LT(std::floor(kLevels[k - 1] * channels), std::floor(kLevels[k] * channels));
        EXPECT_LT(hi->params, lo->params) << method << " " << layer << " " << kLevels[k];
        EXPECT_LT(hi->macs, lo->macs) << method << " " << layer << " " << kLevels[k];
      }
    }
  // Same criterion-independent sizes for the same number of channels removed.
  EXPECT_EQ(point(s, "l1", "conv2", 0.6)->params, point(s, "apoz", "conv2", 0.6)->params);
  // Magnitude: nonzero weights fall by the level of that layer's weights; MACs stay dense.
  for (const std::string layer : {"conv1", "conv2", "fc1", "fc2"}) {
    const int64_t w = g.at(layer).tensor("weight")->numel();
    for (double level : kLevels) {
      const SweepRecord* r = point(s, "magnitude", layer, level);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->params, s.baseline.nonzero_params - std::llround(level * static_cast<double>(w))) << layer << " " << level;
      EXPECT_EQ(r->macs, s.baseline.macs);
    }
  }
}

TEST(PruneSweep, WorkersDoNotChangeTheRecords) {
  SweepOptions o;
  o.methods = {"l1", "magnitude"};
  o.levels = {0.5};
  const SweepResult one = sweep_pruning(trained_lenet5(), val200(), nullptr, o);
  o.workers = 2;
  const SweepResult two = sweep_pruning(trained_lenet5(), val200(), nullptr, o);
  ASSERT_EQ(one.records.size(), 7u);
  ASSERT_EQ(two.records.size(), one.records.size());
  for (size_t i = 0; i < one.records.size(); ++i) {
    EXPECT_EQ(two.records[i].layer, one.records[i].layer);
    EXPECT_EQ(two.records[i].accuracy, one.records[i].accuracy) << one.records[i].layer;
    EXPECT_EQ(two.records[i].params, one.records[i].params) << one.records[i].layer;
  }
}

TEST(PruneSweep, BadOptionsAreRejected) {
  SweepOptions o;
  o.levels = {0.5, 1.0};
  EXPECT_THROW(check_sweep_options(o), BadInput);
  o.levels = {-0.1};
  EXPECT_THROW(check_sweep_options(o), BadInput);
  o.levels = {0.5};
  o.methods = {"l2"};
  try {
    check_sweep_options(o);
    FAIL() << "expected BadInput";
  } catch (const BadInput& e) {
    EXPECT_NE(std::string(e.what()).find("l2: not a pruning method"), std::string::npos) << e.what();
  }
  o.methods = {};
  EXPECT_THROW(check_sweep_options(o), BadInput);
}

TEST(PruneSweep, ReportJsonAndCsvAgree) {
  const SweepResult& s = lenet5_sweep();
  clitest::TempDir d;
  write_sweep_report(d / "out", s);
  const json j = json::parse(ir::read_file(d / "out/report.json"));
  std::set<std::string> top;
  for (const auto& kv : j.items()) top.insert(kv.key());
  EXPECT_EQ(top, (std::set<std::string>{"model", "data", "images", "baseline", "seconds", "pruning"}));
  EXPECT_EQ(j["model"], "lenet5");
  EXPECT_EQ(j["data"], val200().name);
  EXPECT_EQ(j["images"], 200);
  EXPECT_EQ(j["baseline"]["accuracy"].get<double>(), s.baseline.accuracy);
  EXPECT_EQ(j["baseline"]["params"], s.baseline.params);
  EXPECT_EQ(j["baseline"]["macs"], s.baseline.macs);
  ASSERT_EQ(j["pruning"].size(), s.records.size());

  std::istringstream csv(ir::read_file(d / "out/report.csv"));
  std::string line;
  ASSERT_TRUE(std::getline(csv, line));
  EXPECT_EQ(line, "layer,method,level,accuracy,loss,params,macs,seconds");
  const std::set<std::string> keys = {"layer", "method", "level", "accuracy", "loss", "params", "macs", "seconds"};
  for (size_t i = 0; i < s.records.size(); ++i) {
    const json& r = j["pruning"][i];
    std::set<std::string> got;
    for (const auto& kv : r.items()) got.insert(kv.key());
    EXPECT_EQ(got, keys) << i;
    ASSERT_TRUE(std::getline(csv, line)) << i;
    std::vector<std::string> f;
    std::istringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) f.push_back(x);
    ASSERT_EQ(f.size(), 8u) << line;
    EXPECT_EQ(f[0], r["layer"].get<std::string>());
    EXPECT_EQ(f[1], r["method"].get<std::string>());
    EXPECT_EQ(std::stod(f[2]), r["level"].get<double>());
    EXPECT_NEAR(std::stod(f[3]), r["accuracy"].get<double>(), 1e-9);
    EXPECT_NEAR(std::stod(f[4]), r["loss"].get<double>(), 1e-8 * std::max(1.0, r["loss"].get<double>()));
    EXPECT_EQ(std::stoll(f[5]), r["params"].get<int64_t>());
    EXPECT_EQ(std::stoll(f[6]), r["macs"].get<int64_t>());
    EXPECT_EQ(r["accuracy"].get<double>(), s.records[i].accuracy);
  }
  EXPECT_FALSE(std::getline(csv, line)) << "extra line: " << line;
}

TEST(PruneSweep, HtmlHasAChartPerMethodAndRendersInChromium) {
  SweepResult s = lenet5_sweep();
  s.model = "lenet<5>";
  clitest::TempDir d;
  write_sweep_report(d / "r", s);
  const std::string html = ir::read_file(d / "r/report.html");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("lenet&lt;5&gt;"), std::string::npos);
  EXPECT_EQ(html.find("lenet<5>"), std::string::npos);
  EXPECT_EQ(count(html, "<figure class=\"prune-curves\""), 3);
  for (const std::string& m : kMethods) EXPECT_EQ(count(html, "data-method=\"" + m + "\""), 1) << m;
  EXPECT_EQ(count(html, "<svg "), 3);
  const size_t rec = html.find("<table class=\"records\">");
  ASSERT_NE(rec, std::string::npos);
  EXPECT_EQ(count(html.substr(rec), "<tr>"), static_cast<int>(s.records.size()) + 1);
  for (const std::string bad : {"nan", "inf\"", "<script"}) EXPECT_EQ(count(html, bad), 0) << bad;

  testutil::expect_report_drawn(d / "r/report.html", d.path());
}

}  // namespace
}  // namespace shrink::prune
