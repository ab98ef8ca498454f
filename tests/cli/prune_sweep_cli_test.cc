// shrink sweep with pruning methods as a user runs it: the three report files, and bad input
// (a level of 1, an unknown method, quantization and pruning methods mixed, a flag of the other
// kind of sweep) failing with exit 2 and one line.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"

namespace shrink::clitest {
namespace {

TEST(PruneSweepCliTest, LeNet5L1AndMagnitudeWriteTheReport) {
  const std::string model = trained_model();
  TempDir d;
  CmdResult r = run_shrink("sweep '" + model + "' --data fashion-mnist --methods l1,magnitude --levels 0.3,0.6 --limit 200 -o out",
                           d.path());
  ASSERT_EQ(r.code, 0) << r.err;
  // l1: the channel groups conv1, conv2, fc1 (fc2 is the classifier); magnitude: conv1, conv2, fc1, fc2.
  EXPECT_NE(r.out.find("pruning sweep of lenet5: 14 records on 200 val images"), std::string::npos) << r.out;
  const nlohmann::json j = nlohmann::json::parse(slurp(d.path() / "out" / "report.json"));
  ASSERT_EQ(j["pruning"].size(), 14u);
  EXPECT_EQ(j["images"], 200);
  for (const auto& rec : j["pruning"]) {
    for (const char* k : {"layer", "method", "level", "accuracy", "loss", "params", "macs", "seconds"})
      EXPECT_TRUE(rec.contains(k)) << k << " missing in " << rec.dump();
    const double level = rec["level"].get<double>();
    EXPECT_TRUE(level == 0.3 || level == 0.6) << rec.dump();
    if (rec["method"] == "l1") {
      EXPECT_LT(rec["params"].get<int64_t>(), j["baseline"]["params"].get<int64_t>()) << rec.dump();
    }
  }
  EXPECT_EQ(j["pruning"][0]["method"], "l1");
  EXPECT_EQ(j["pruning"][0]["layer"], "conv1");
  EXPECT_EQ(line_count(slurp(d.path() / "out" / "report.csv")), 15);  // header + records
  const std::string html = slurp(d.path() / "out" / "report.html");
  EXPECT_NE(html.find("<figure class=\"prune-curves\" data-method=\"l1\">"), std::string::npos);
  EXPECT_NE(html.find("<figure class=\"prune-curves\" data-method=\"magnitude\">"), std::string::npos);
}

TEST(PruneSweepCliTest, BadInputExitsTwoWithOneLine) {
  const std::string model = trained_model();
  TempDir d;
  const std::string base = "sweep '" + model + "' --data fashion-mnist --limit 50 -o out ";
  expect_bad_input(run_shrink(base + "--methods l1 --levels 0.5,1.0", d.path()), "--levels 1: expected 0 <= level < 1");
  expect_bad_input(run_shrink(base + "--methods l1,l7", d.path()), "--methods l7: unknown method");
  expect_bad_input(run_shrink(base + "--methods l1,fixed", d.path()),
                   "--methods: do not mix quantization (fixed, kmeans) and pruning (magnitude, random");
  expect_bad_input(run_shrink(base + "--methods fixed --levels 0.5", d.path()), "--levels applies to pruning sweeps");
  expect_bad_input(run_shrink(base + "--methods magnitude --bits 4", d.path()), "--bits applies to quantization sweeps");
  expect_bad_input(run_shrink(base + "--methods magnitude --levels 0.5,x", d.path()), "--levels 0.5,x: expected numbers");
  EXPECT_FALSE(fs::exists(d.path() / "out" / "report.json"));
}

}  // namespace
}  // namespace shrink::clitest
