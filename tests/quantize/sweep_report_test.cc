// The sweep reports (quantize/sweep_report.cc) on a synthetic sweep: 3 layers x {weights,
// activations} x {fixed, kmeans} x bits {2, 4, 8} = 36 records, and a small exploration.
// The HTML is rendered with headless Chromium and must not be blank.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "quantize/quantize_model.h"
#include "quantize/sweep.h"
#include "tests/cli/cli_util.h"  // TempDir
#include "tests/util/html_render.h"

namespace shrink::quant {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<std::string> kLayers = {"conv1", "conv2", "fc1"};

SweepResult synthetic_sweep() {
  SweepResult s;
  s.model = "lenet5";
  s.layers = kLayers;
  s.layer_params = {{"conv1", 150}, {"conv2", 2400}, {"fc1", 48000}};
  s.baseline_accuracy = 0.9;
  s.baseline_loss = 0.3;
  s.images = 1000;
  s.cached = true;
  s.seconds = 12.5;
  int li = 0;
  for (const std::string& layer : kLayers) {
    for (const std::string target : {"weights", "activations"}) {
      for (const std::string method : {"fixed", "kmeans"}) {
        for (int bits : {2, 4, 8}) {
          SweepRecord r;
          r.layer = layer;
          r.target = target;
          r.method = method;
          r.bits = bits;
          if (method == "fixed") {
            r.il = 2 + li;
            r.fl = bits - 1 - *r.il;
          } else if (target == "weights") {
            r.il = 0, r.fl = 7;  // the centroids' format
          }
          // Lower widths lose more; later layers are more sensitive.
          r.accuracy = 0.9 - (8.0 / bits - 1) * 0.02 * (li + 1) - (method == "kmeans" ? 0.005 : 0);
          r.loss = 0.3 + (0.9 - r.accuracy);
          r.sqnr_db = 6.02 * bits + li;
          r.seconds = 0.25 * bits;
          s.records.push_back(r);
        }
      }
    }
    ++li;
  }
  s.records[5].sqnr_db = 1e9;       // an exact tensor
  s.records[6].sqnr_db = INFINITY;  // stored as 1e9 too
  s.records[7].loss = NAN;          // not finite: null in JSON
  return s;
}

MixedConfig config(const std::string& label, int w_conv, int w_fc, int64_t bytes, double acc) {
  MixedConfig m;
  m.label = label;
  m.weight_bits = {{"conv1", w_conv}, {"conv2", w_conv}, {"fc1", w_fc}};
  m.act_bits = {{"conv1", 8}, {"conv2", 8}, {"fc1", 8}};
  m.weight_bytes = bytes;
  m.activation_bytes = 4704;
  m.bitops = 1.5e6 * w_conv;
  m.accuracy = acc;
  m.loss = 0.3;
  m.within_budget = acc >= 0.89;
  return m;
}

ExploreResult synthetic_explore() {
  ExploreResult e;
  e.baseline_accuracy = 0.9;
  e.max_drop = 0.01;
  e.objective = "bytes";
  e.evaluated = {config("uniform 16", 16, 16, 101100, 0.9), config("uniform 8", 8, 8, 50550, 0.899),
                 config("uniform 4", 4, 4, 25275, 0.85), config("step 1: fc1 weights 8->4", 8, 4, 26475, 0.895),
                 config("step 2: conv2 weights 8->4", 4, 4, 25275, 0.86)};
  e.evaluated[3].act_bits["fc1"] = 6;
  e.pareto = {0, 1, 3, 4};
  e.uniform8 = 1;
  e.chosen = 3;
  e.seconds = 4.0;
  return e;
}

using clitest::TempDir;

int count(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

TEST(SweepReport, JsonHasEveryRecordWithTheDocumentedKeys) {
  const SweepResult s = synthetic_sweep();
  const ExploreResult e = synthetic_explore();
  // Through text and back: no NaN / infinity literals that would make the JSON unreadable.
  const json j = json::parse(sweep_report_json(s, &e).dump());
  std::set<std::string> top;
  for (const auto& kv : j.items()) top.insert(kv.key());
  EXPECT_EQ(top, (std::set<std::string>{"model", "images", "baseline", "seconds", "cached", "sensitivity",
                                        "exploration", "chosen_config"}));
  EXPECT_EQ(j["model"], "lenet5");
  EXPECT_EQ(j["images"], 1000);
  EXPECT_DOUBLE_EQ(j["baseline"]["accuracy"].get<double>(), 0.9);
  EXPECT_EQ(j["cached"], true);
  ASSERT_EQ(j["sensitivity"].size(), 36u);
  const std::set<std::string> keys = {"layer", "target", "method", "bits", "il", "fl",
                                      "accuracy", "loss", "sqnr_db", "seconds"};
  for (size_t i = 0; i < s.records.size(); ++i) {
    const json& r = j["sensitivity"][i];
    std::set<std::string> got;
    for (const auto& kv : r.items()) got.insert(kv.key());
    EXPECT_EQ(got, keys) << i;
    const SweepRecord back = SweepRecord::from_json(r);
    const SweepRecord& want = s.records[i];
    EXPECT_EQ(back.key(), want.key());
    EXPECT_EQ(back.il, want.il) << want.key();
    EXPECT_EQ(back.fl, want.fl) << want.key();
    EXPECT_TRUE(same(back.accuracy, want.accuracy)) << want.key();
    EXPECT_TRUE(same(back.loss, want.loss)) << want.key();
    EXPECT_TRUE(same(back.sqnr_db, std::isinf(want.sqnr_db) ? 1e9 : want.sqnr_db)) << want.key();
    EXPECT_DOUBLE_EQ(back.seconds, want.seconds);
  }
  EXPECT_EQ(s.records[0].key(), "conv1/weights/fixed/2");
  // kmeans activations have no format: il / fl null.
  EXPECT_TRUE(j["sensitivity"][9]["il"].is_null());
  EXPECT_TRUE(j["sensitivity"][9]["fl"].is_null());
  EXPECT_EQ(j["sensitivity"][9]["target"], "activations");
  EXPECT_EQ(j["sensitivity"][0]["fl"], -1);  // 2 bits, il 2
  EXPECT_DOUBLE_EQ(j["sensitivity"][6]["sqnr_db"].get<double>(), 1e9);
  EXPECT_TRUE(j["sensitivity"][7]["loss"].is_null());

  ASSERT_TRUE(j["exploration"].is_object());
  EXPECT_EQ(j["exploration"]["evaluated"].size(), 5u);
  EXPECT_EQ(j["exploration"]["pareto"], json({0, 1, 3, 4}));
  EXPECT_EQ(j["exploration"]["chosen"], 3);
  EXPECT_EQ(j["exploration"]["uniform8"], 1);
  EXPECT_EQ(j["chosen_config"]["label"], "step 1: fc1 weights 8->4");
  EXPECT_EQ(j["chosen_config"]["weight_bits"]["fc1"], 4);
  EXPECT_EQ(j["chosen_config"]["act_bits"]["fc1"], 6);
  EXPECT_EQ(j["chosen_config"]["weight_bytes"], 26475);

  const json no_explore = sweep_report_json(s, nullptr);
  EXPECT_TRUE(no_explore["exploration"].is_null());
  EXPECT_TRUE(no_explore["chosen_config"].is_null());
}

TEST(SweepReport, FromJsonRejectsMalformedRecords) {
  const json good = synthetic_sweep().records[0].to_json();
  ASSERT_NO_THROW(SweepRecord::from_json(good));
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& j) { j.erase("layer"); }, "missing key 'layer'"},
      {[](json& j) { j["layer"] = ""; }, "'layer' is empty"},
      {[](json& j) { j["target"] = "bias"; }, "target 'bias'"},
      {[](json& j) { j["method"] = "pq"; }, "method 'pq'"},
      {[](json& j) { j["bits"] = "2"; }, "'bits' must be an integer"},
      {[](json& j) { j["bits"] = 2.5; }, "'bits' must be an integer"},
      {[](json& j) { j["bits"] = 17, j["fl"] = 14; }, "bits 17: expected 2..16"},
      {[](json& j) { j["bits"] = 1, j["fl"] = -2; }, "bits 1: expected 2..16"},
      {[](json& j) { j["method"] = "kmeans", j["bits"] = 9; }, "bits 9: expected 1..8"},
      {[](json& j) { j["method"] = "kmeans", j["bits"] = 0; }, "bits 0: expected 1..8"},
      {[](json& j) { j["fl"] = nullptr; }, "both be integers or both null"},
      {[](json& j) { j.erase("il"); }, "missing key 'il'"},
      {[](json& j) { j["fl"] = 0; }, "must equal bits - 1 = 1"},
      {[](json& j) { j["il"] = nullptr, j["fl"] = nullptr; }, "needs 'il' and 'fl'"},
      {[](json& j) { j["il"] = -30, j["fl"] = 31; }, "fl 31: expected -8..24"},
      {[](json& j) { j["accuracy"] = 1.5; }, "accuracy 1.5: expected 0..1"},
      {[](json& j) { j["accuracy"] = "high"; }, "'accuracy' must be a number"},
      {[](json& j) { j.erase("sqnr_db"); }, "missing key 'sqnr_db'"},
      {[](json& j) { j["seconds"] = -1; }, "seconds -1: expected >= 0"},
      {[](json& j) { j["acc"] = 0.5; }, "unknown key 'acc'"},
      {[](json& j) { j = json::array({1, 2}); }, "expected an object"},
  };
  for (const auto& [mutate, needle] : cases) {
    json j = good;
    mutate(j);
    try {
      SweepRecord::from_json(j);
      ADD_FAILURE() << "accepted " << j.dump();
    } catch (const BadInput& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what() << " / expected: " << needle;
    }
  }
  // A kmeans activation record without a format is valid; "seconds" may be absent.
  json k = synthetic_sweep().records[9].to_json();
  k.erase("seconds");
  const SweepRecord r = SweepRecord::from_json(k);
  EXPECT_FALSE(r.il.has_value());
  EXPECT_EQ(r.seconds, 0);
}

TEST(SweepReport, CsvHasAHeaderAndOneLinePerRecord) {
  SweepResult s = synthetic_sweep();
  s.records[1].layer = "block,1";  // quoted
  const std::string csv = sweep_report_csv(s);
  std::vector<std::string> lines;
  std::istringstream in(csv);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 37u);
  EXPECT_EQ(lines[0], "layer,target,method,bits,il,fl,accuracy,loss,sqnr_db,seconds");
  EXPECT_EQ(lines[1], "conv1,weights,fixed,2,2,-1,0.84,0.36,12.04,0.5");
  EXPECT_EQ(lines[2].rfind("\"block,1\",weights,fixed,4,2,1,", 0), 0u) << lines[2];
  EXPECT_EQ(lines[4], "conv1,weights,kmeans,2,0,7,0.835,0.365,12.04,0.5");
  EXPECT_EQ(lines[6], "conv1,weights,kmeans,8,0,7,0.895,0.305,1000000000,2");        // exact
  EXPECT_EQ(lines[7], "conv1,activations,fixed,2,2,-1,0.84,0.36,1000000000,0.5");   // infinity: exact
  EXPECT_EQ(lines[8], "conv1,activations,fixed,4,2,1,0.88,,24.08,1");          // NaN loss: empty
  EXPECT_EQ(lines[10], "conv1,activations,kmeans,2,,,0.835,0.365,12.04,0.5");  // no format
  for (size_t i = 1; i < lines.size(); ++i) EXPECT_EQ(count(lines[i], ","), 9 + (i == 2)) << lines[i];
}

TEST(SweepReport, ChosenYamlIsReadBackByLoadLayerConfig) {
  ExploreResult e = synthetic_explore();
  MixedConfig& ch = e.evaluated[*e.chosen];
  ch.weight_bits["block 1: conv#2"] = 6;  // a name that needs quoting in YAML
  ch.act_bits["block 1: conv#2"] = 12;
  ch.weight_bits["head"] = 16;  // weights only
  const std::string yaml = e.chosen_yaml();
  EXPECT_EQ(yaml.rfind("# ", 0), 0u) << yaml;
  EXPECT_NE(yaml.find("fp32 baseline accuracy 0.9000"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("weight bytes 26475 (uniform 8-bit: 50550"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  conv1: {weight_bits: 8, act_bits: 8}\n"), std::string::npos) << yaml;
  TempDir d;
  ir::write_file_atomic(d / "q.yaml", yaml);
  const std::map<std::string, LayerOverride> cfg = load_layer_config(d / "q.yaml");
  std::set<std::string> names;
  for (const auto& [n, b] : ch.weight_bits) names.insert(n);
  ASSERT_EQ(cfg.size(), names.size()) << yaml;
  for (const std::string& n : names) {
    ASSERT_TRUE(cfg.count(n)) << n << "\n" << yaml;
    EXPECT_EQ(cfg.at(n).weight_bits, ch.weight_bits.at(n)) << n;
    EXPECT_EQ(cfg.at(n).act_bits, ch.act_bits.count(n) ? ch.act_bits.at(n) : -1) << n;
    EXPECT_EQ(cfg.at(n).index_bits, -1) << n;
  }
  EXPECT_EQ(cfg.at("fc1").weight_bits, 4);
  EXPECT_EQ(cfg.at("fc1").act_bits, 6);

  e.chosen.reset();
  EXPECT_THROW(e.chosen_yaml(), Error);
}

TEST(SweepReport, HtmlHasAChartPerLayerAndTargetHeatMapsAndTheExploration) {
  SweepResult s = synthetic_sweep();
  s.model = "lenet<5>";
  s.records[2].accuracy = NAN;  // a missing point must not reach the SVG as "nan"
  const ExploreResult e = synthetic_explore();
  const std::string html = sweep_report_html(s, &e);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("lenet&lt;5&gt;"), std::string::npos);
  EXPECT_EQ(html.find("lenet<5>"), std::string::npos);
  EXPECT_EQ(count(html, "<figure class=\"acc-bits\""), 6);  // 3 layers x 2 targets
  for (const std::string& l : kLayers)
    for (const std::string t : {"weights", "activations"})
      EXPECT_EQ(count(html, "data-layer=\"" + l + "\" data-target=\"" + t + "\""), 1) << l << " " << t;
  EXPECT_EQ(count(html, "<figure class=\"heat-map\""), 4);  // 2 targets x 2 methods
  EXPECT_EQ(count(html, "<figure class=\"pareto\""), 1);
  EXPECT_EQ(count(html, "<section id=\"exploration\">"), 1);
  EXPECT_EQ(count(html, "<svg "), 6 + 4 + 1);
  EXPECT_NE(html.find("Chosen formats"), std::string::npos);
  EXPECT_NE(html.find("step 1: fc1 weights 8-&gt;4 (chosen)"), std::string::npos);
  EXPECT_NE(html.find(">uniform 8-bit</td><td class=\"n\">50,550</td>"), std::string::npos);
  EXPECT_NE(html.find(">chosen</td><td class=\"n\">26,475</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"n\">exact</td>"), std::string::npos);  // sqnr 1e9 and infinity
  EXPECT_EQ(count(html, "<td class=\"n\">exact</td>"), 2);
  // The records table: a header and 36 rows; the evaluated table: 5 configurations.
  const size_t rec = html.find("<table class=\"records\">");
  ASSERT_NE(rec, std::string::npos);
  EXPECT_EQ(count(html.substr(rec), "<tr>"), 37);
  const size_t ev = html.find("<table class=\"evaluated\">");
  ASSERT_NE(ev, std::string::npos);
  EXPECT_EQ(count(html.substr(ev, rec - ev), "<tr>"), 6);
  for (const std::string bad : {"nan", "inf\"", "=\"-", "<script"}) EXPECT_EQ(count(html, bad), 0) << bad;

  const std::string plain = sweep_report_html(s, nullptr);
  EXPECT_EQ(count(plain, "id=\"exploration\""), 0);
  EXPECT_EQ(count(plain, "<figure class=\"acc-bits\""), 6);
}

TEST(SweepReport, WriteSweepReportWritesEveryFile) {
  TempDir d;
  const SweepResult s = synthetic_sweep();
  ExploreResult e = synthetic_explore();
  const std::string dir = d / "out/sweep";  // created
  write_sweep_report(dir, s, &e);
  EXPECT_EQ(json::parse(ir::read_file(dir + "/report.json")), sweep_report_json(s, &e));
  EXPECT_EQ(ir::read_file(dir + "/report.csv"), sweep_report_csv(s));
  EXPECT_EQ(ir::read_file(dir + "/report.html"), sweep_report_html(s, &e));
  EXPECT_EQ(ir::read_file(dir + "/mixed_precision.yaml"), e.chosen_yaml());
  // Without a chosen configuration the YAML of an earlier run is removed.
  e.chosen.reset();
  write_sweep_report(dir, s, &e);
  EXPECT_FALSE(fs::exists(dir + "/mixed_precision.yaml"));
  EXPECT_TRUE(json::parse(ir::read_file(dir + "/report.json"))["chosen_config"].is_null());
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 3);
}

TEST(SweepReport, ChromiumRendersTheReportNonBlank) {
  TempDir d;
  const SweepResult s = synthetic_sweep();
  const ExploreResult e = synthetic_explore();
  write_sweep_report(d / "r", s, &e);
  const testutil::RenderStats report = testutil::expect_report_drawn(d / "r/report.html", d.path());
  EXPECT_EQ(report.height, 2000);
}

}  // namespace
}  // namespace shrink::quant
