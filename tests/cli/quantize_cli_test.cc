// shrink quantize as a user runs it: a quantized model file, eval / infer on it (simulated), and
// bad input (exit 2, one line).
#include <fstream>

#include <gtest/gtest.h>

#include "tests/cli/cli_util.h"

namespace shrink::clitest {
namespace {

TEST(QuantizeCliTest, FixedPointModelEvaluatesSimulated) {
  const std::string model = trained_model();
  TempDir d;
  CmdResult r = run_shrink("quantize '" + model + "' --data fashion-mnist --scheme fixed --bits 8 --calibration 200 -o q.h5",
                           d.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("before"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("after"), std::string::npos) << r.out;
  CmdResult e = run_shrink("eval q.h5 --data fashion-mnist --limit 500 --json", d.path());
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.out.find("\"accuracy\""), std::string::npos);
  // 2-bit weights and activations are a different (worse) model than 8-bit: eval simulates.
  r = run_shrink("quantize '" + model + "' --data fashion-mnist --scheme fixed --bits 2 --calibration 200 -o q2.h5",
                 d.path());
  ASSERT_EQ(r.code, 0) << r.err;
  CmdResult e2 = run_shrink("eval q2.h5 --data fashion-mnist --limit 500 --json", d.path());
  ASSERT_EQ(e2.code, 0) << e2.err;
  EXPECT_NE(e.out, e2.out);
}

TEST(QuantizeCliTest, KMeansAndConfig) {
  const std::string model = trained_model();
  TempDir d;
  {
    std::ofstream f(d / "q.yaml");
    f << "layers:\n  conv1: {weight_bits: 4, act_bits: 8}\n  fc2: {weight_bits: 6}\n";
  }
  CmdResult r = run_shrink("quantize '" + model + "' --data fashion-mnist --config q.yaml --calibration 100 -o c.h5", d.path());
  EXPECT_EQ(r.code, 0) << r.err;
  r = run_shrink("quantize '" + model + "' --data fashion-mnist --scheme kmeans --bits 4 --calibration 100 -o k.h5", d.path());
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST(QuantizeCliTest, BadInputExitsTwoWithOneLine) {
  const std::string model = trained_model();
  TempDir d;
  const std::string base = "quantize '" + model + "' --data fashion-mnist -o q.h5 ";
  expect_bad_input(run_shrink(base + "--bits 1", d.path()), "--bits 1: expected 2..16");
  expect_bad_input(run_shrink(base + "--bits 17", d.path()), "--bits 17: expected 2..16");
  expect_bad_input(run_shrink(base + "--scheme kmeans --index-bits 0", d.path()), "--index-bits 0: expected 1..8");
  expect_bad_input(run_shrink(base + "--scheme kmeans --index-bits 9", d.path()), "--index-bits 9: expected 1..8");
  {
    std::ofstream f(d / "unknown.yaml");
    f << "layers:\n  conv1: {weight_bits: 4}\n  conv9: {weight_bits: 4}\n";
    std::ofstream g(d / "other.yaml");
    g << "layers:\n  features.0: {weight_bits: 4}\n  classifier.1: {act_bits: 6}\n";
  }
  expect_bad_input(run_shrink(base + "--config unknown.yaml --calibration 50", d.path()), "unknown layer 'conv9'");
  expect_bad_input(run_shrink(base + "--config other.yaml --calibration 50", d.path()), "another model");
  EXPECT_FALSE(std::filesystem::exists(d / "q.h5"));
}

}  // namespace
}  // namespace shrink::clitest
