// The commands on real data: eval --json, infer, analyze, export / import, finetune, train.
#include <cmath>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "compress/ir/npy.h"
#include "tests/cli/cli_util.h"

namespace shrink::clitest {
namespace {

constexpr double kOutputTolerance = 1e-5;  // batched vs unbatched forward pass, float32

nlohmann::json eval_json(const std::string& model, const std::string& extra, const fs::path& cwd) {
  CmdResult r = run_shrink("eval '" + model + "' --data fashion-mnist --json " + extra, cwd);
  EXPECT_EQ(r.code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

TEST(CliEval, JsonHasExactlyAccuracyLossAndN) {
  TempDir t;
  const std::string model = trained_model();
  CmdResult r = run_shrink("eval '" + model + "' --data fashion-mnist --limit 300 --json", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);  // throws (fails) on anything but one JSON value
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.size(), 3u) << r.out;
  ASSERT_TRUE(j.contains("accuracy") && j.contains("loss") && j.contains("n")) << r.out;
  EXPECT_EQ(j["n"].get<int64_t>(), 300);
  double acc = j["accuracy"].get<double>();
  EXPECT_GE(acc, 0.0);
  EXPECT_LE(acc, 1.0);
  EXPECT_GT(acc, 0.3) << "500 images, 1 epoch should beat chance (0.1) clearly";
  EXPECT_GT(j["loss"].get<double>(), 0.0);
  // Accuracy times n is a whole number of correct answers.
  double correct = acc * 300;
  EXPECT_NEAR(correct, std::round(correct), 1e-6);
}

TEST(CliEval, SplitsDiffer) {
  TempDir t;
  const std::string model = trained_model();
  nlohmann::json test = eval_json(model, "--limit 200", t.path());
  nlohmann::json val = eval_json(model, "--split val --limit 200", t.path());
  EXPECT_EQ(val["n"], 200);
  EXPECT_NE(test["loss"].get<double>(), val["loss"].get<double>());
  CmdResult r = run_shrink("eval '" + model + "' --data fashion-mnist --limit 50", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("accuracy"), std::string::npos);
}

TEST(CliInfer, BatchedOutputIsNBy10AndMatchesSingleSamples) {
  TempDir t;
  const std::string model = trained_model();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  ir::Tensor x({5, 1, 28, 28});
  for (auto& v : x.data) v = u(rng);
  ir::write_npy(t / "x.npy", x);
  CmdResult r = run_shrink("infer '" + model + "' --input x.npy -o y.npy --batch-size 2", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  ir::NpyArray y = ir::read_npy(t / "y.npy");
  ASSERT_FALSE(y.is_int64);
  ASSERT_EQ(y.shape, (ir::Shape{5, 10}));

  // Sample 3 alone, without the batch dimension: output {10}, same numbers.
  ir::Tensor one({1, 28, 28}, std::vector<float>(x.data.begin() + 3 * 784, x.data.begin() + 4 * 784));
  ir::write_npy(t / "one.npy", one);
  r = run_shrink("infer '" + model + "' --input one.npy -o one-y.npy", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  ir::NpyArray y1 = ir::read_npy(t / "one-y.npy");
  ASSERT_EQ(y1.shape, (ir::Shape{10}));
  for (int k = 0; k < 10; ++k) EXPECT_NEAR(y1.f32[k], y.f32[3 * 10 + k], kOutputTolerance);
  // Different inputs give different outputs.
  EXPECT_NE(y.f32[0], y.f32[10]);
}

TEST(CliAnalyze, ZooLenet5Totals) {
  TempDir t;
  CmdResult r = run_shrink("analyze --model lenet5 --json", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["total"]["macs"].get<int64_t>(), 2293000);
  EXPECT_EQ(j["total"]["params"].get<int64_t>(), 431080);
  ASSERT_TRUE(j["layers"].is_array());
  int64_t sum = 0;
  for (const auto& l : j["layers"]) sum += l["macs"].get<int64_t>();
  EXPECT_EQ(sum, 2293000);

  // The same numbers for a trained file; bits change the bytes, not the counts.
  nlohmann::json f32 = nlohmann::json::parse(run_shrink("analyze '" + trained_model() + "' --json", t.path()).out);
  nlohmann::json b8 =
      nlohmann::json::parse(run_shrink("analyze '" + trained_model() + "' --json --bits 8", t.path()).out);
  EXPECT_EQ(f32["total"]["params"], j["total"]["params"]);
  EXPECT_EQ(b8["total"]["macs"], j["total"]["macs"]);
  EXPECT_EQ(f32["total"]["weight_bytes"].get<int64_t>(), 4 * b8["total"]["weight_bytes"].get<int64_t>());

  r = run_shrink("analyze --model lenet5", t.path());  // the text table
  ASSERT_EQ(r.code, 0) << r.err;
  for (const auto& l : j["layers"]) EXPECT_NE(r.out.find(l["name"].get<std::string>()), std::string::npos) << r.out;
}

TEST(CliExportImport, OnnxRoundTripKeepsAccuracy) {
  TempDir t;
  const std::string model = trained_model();
  CmdResult r = run_shrink("export '" + model + "' --format onnx -o m.onnx", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_GT(fs::file_size(t / "m.onnx"), 431080u * 4);
  r = run_shrink("import m.onnx -o back.h5", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json a = eval_json(model, "--limit 200", t.path());
  nlohmann::json b = eval_json(t / "back.h5", "--limit 200", t.path());
  EXPECT_EQ(a["n"], b["n"]);
  EXPECT_NEAR(a["accuracy"].get<double>(), b["accuracy"].get<double>(), 1e-9);
  EXPECT_NEAR(a["loss"].get<double>(), b["loss"].get<double>(), 1e-4);

  expect_bad_input(run_shrink("export '" + model + "' --format tflite -o m.tflite", t.path()), "tflite");
}

TEST(CliFinetune, DistillingFromATeacherWritesAModel) {
  TempDir t;
  const std::string model = trained_model();
  CmdResult r = run_shrink("finetune '" + model + "' --data fashion-mnist --epochs 1 --train-limit 300 --teacher '" +
                               model + "' --temperature 5 --alpha 2 -o ft.h5",
                           t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json before = eval_json(model, "--limit 200", t.path());
  nlohmann::json after = eval_json(t / "ft.h5", "--limit 200", t.path());
  EXPECT_NE(before["loss"].get<double>(), after["loss"].get<double>()) << "fine-tuning changed nothing";
  expect_bad_input(run_shrink("finetune '" + model + "' --data fashion-mnist --teacher nope.h5 -o f.h5", t.path()),
                   "nope.h5");
}

TEST(CliTrain, SameSeedSameModel) {
  TempDir t;
  const std::string args = "train --model lenet300 --data fashion-mnist --epochs 1 --train-limit 200 --seed 3 --threads 1 ";
  ASSERT_EQ(run_shrink(args + "-o a.h5", t.path()).code, 0);
  ASSERT_EQ(run_shrink(args + "-o b.h5", t.path()).code, 0);
  nlohmann::json a = eval_json(t / "a.h5", "--limit 100", t.path());
  nlohmann::json b = eval_json(t / "b.h5", "--limit 100", t.path());
  EXPECT_EQ(a["loss"].get<double>(), b["loss"].get<double>());
}

}  // namespace
}  // namespace shrink::clitest
