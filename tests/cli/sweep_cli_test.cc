// shrink sweep as a user runs it: the report files, the journal and --resume, --explore with a
// configuration quantize --config accepts, and bad input (exit 2, one line).
#include <fstream>

#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"

namespace shrink::clitest {
namespace {

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(SweepCliTest, LeNet5FortyEightRecordsReportsAndResume) {
  const std::string model = trained_model();
  TempDir d;
  CmdResult r = run_shrink("sweep '" + model + "' --data fashion-mnist --bits 2,4,8 --limit 200 --calibration 100 -o out",
                           d.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("48 records"), std::string::npos) << r.out;
  nlohmann::json j = nlohmann::json::parse(slurp(d.path() / "out" / "report.json"));
  ASSERT_EQ(j["sensitivity"].size(), 48u);
  for (const auto& rec : j["sensitivity"])
    for (const char* k : {"layer", "target", "method", "bits", "il", "fl", "accuracy", "loss", "sqnr_db"})
      EXPECT_TRUE(rec.contains(k)) << k << " missing in " << rec.dump();
  EXPECT_TRUE(j["exploration"].is_null());
  EXPECT_EQ(count_lines(slurp(d.path() / "out" / "report.csv")), 49);  // header + records
  EXPECT_NE(slurp(d.path() / "out" / "report.html").find("<svg"), std::string::npos);
  EXPECT_FALSE(fs::exists(d.path() / "out" / "mixed_precision.yaml"));
  // The journal: a header line and one line per point.
  EXPECT_EQ(count_lines(slurp(d.path() / "out" / "points.jsonl")), 49);

  // Resume after an "interruption" that lost the last 10 points and cut a line in half.
  {
    std::string journal = slurp(d.path() / "out" / "points.jsonl");
    size_t cut = journal.size();
    for (int i = 0; i <= 10; ++i) cut = journal.rfind('\n', cut - 1);
    std::ofstream f(d.path() / "out" / "points.jsonl", std::ios::trunc);
    f << journal.substr(0, cut + 1) << "{\"layer\": \"fc";
  }
  CmdResult again = run_shrink(
      "sweep '" + model + "' --data fashion-mnist --bits 2,4,8 --limit 200 --calibration 100 --resume -o out", d.path());
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("38 points already measured"), std::string::npos) << again.err;
  nlohmann::json j2 = nlohmann::json::parse(slurp(d.path() / "out" / "report.json"));
  ASSERT_EQ(j2["sensitivity"].size(), 48u);
  for (size_t i = 0; i < 48; ++i) {
    EXPECT_EQ(j2["sensitivity"][i]["accuracy"], j["sensitivity"][i]["accuracy"]) << i;
    EXPECT_EQ(j2["sensitivity"][i]["fl"], j["sensitivity"][i]["fl"]) << i;
  }
  // The torn line is gone from the journal: the header and one whole record per point, so a
  // second interruption would lose nothing that was measured.
  {
    std::istringstream lines(slurp(d.path() / "out" / "points.jsonl"));
    int n = 0;
    for (std::string l; std::getline(lines, l); ++n)
      EXPECT_TRUE(nlohmann::json::parse(l, nullptr, false).is_object()) << "line " << n + 1 << ": " << l;
    EXPECT_EQ(n, 49);
  }

  // A resume with other settings is refused, naming the difference.
  CmdResult other = run_shrink(
      "sweep '" + model + "' --data fashion-mnist --bits 2,4,8 --limit 100 --calibration 100 --resume -o out", d.path());
  expect_bad_input(other, "images");
}

TEST(SweepCliTest, ExploreWritesAConfigThatQuantizeAccepts) {
  const std::string model = trained_model();
  TempDir d;
  CmdResult r = run_shrink("sweep '" + model +
                               "' --data fashion-mnist --methods fixed --bits 4,8 --limit 300 --calibration 200 "
                               "--explore --max-drop 0.02 -o out",
                           d.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("exploration:"), std::string::npos) << r.out;
  nlohmann::json j = nlohmann::json::parse(slurp(d.path() / "out" / "report.json"));
  ASSERT_FALSE(j["exploration"].is_null());
  ASSERT_TRUE(fs::exists(d.path() / "out" / "mixed_precision.yaml")) << r.out;
  CmdResult q = run_shrink("quantize '" + model +
                               "' --data fashion-mnist --config out/mixed_precision.yaml --calibration 200 -o q.h5",
                           d.path());
  EXPECT_EQ(q.code, 0) << q.err;
  EXPECT_TRUE(fs::exists(d.path() / "q.h5"));
}

TEST(SweepCliTest, BadInput) {
  const std::string model = trained_model();
  TempDir d;
  const std::string base = "sweep '" + model + "' --data fashion-mnist --limit 50 -o out ";
  expect_bad_input(run_shrink(base + "--methods fixed --bits 1", d.path()), "--bits 1");
  expect_bad_input(run_shrink(base + "--methods fixed --bits 2,17", d.path()), "--bits 17");
  expect_bad_input(run_shrink(base + "--methods kmeans --bits 0", d.path()), "--bits 0");
  expect_bad_input(run_shrink(base + "--methods kmeans --bits 9", d.path()), "--bits 9");
  expect_bad_input(run_shrink(base + "--bits 2,x", d.path()), "--bits 2,x");
  expect_bad_input(run_shrink(base + "--targets biases", d.path()), "--targets biases");
  expect_bad_input(run_shrink(base + "--layers conv9", d.path()), "conv9");
  expect_bad_input(run_shrink(base + "--explore --max-drop 2", d.path()), "--max-drop");
  expect_bad_input(run_shrink("sweep missing.h5 --data fashion-mnist -o out", d.path()), "missing.h5");
  EXPECT_FALSE(fs::exists(d.path() / "out" / "report.json"));
}

}  // namespace
}  // namespace shrink::clitest
