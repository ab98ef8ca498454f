// shrink-rt against shrink on a trained LeNet-5 and MobileNetV2: for int8, int16 and k-means (codebook) models,
// `shrink-rt run` gives exactly the float32 outputs of `shrink infer` (the simulation) and
// `shrink-rt eval` exactly the accuracy of `shrink eval`; the fp32 .shr agrees within 1e-4.
// Plus the tool's other commands and its bad-input contract (one line, exit 2).
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

#include "compress/ir/dataset.h"
#include "compress/ir/npy.h"
#include "tests/cli/cli_util.h"

namespace shrink::clitest {
namespace {

/// Runs `shrink-rt <args>` in cwd (as run_shrink does for shrink).
CmdResult run_rt(const std::string& args, const fs::path& cwd) {
  return run_program(std::string(SHRINK_BIN_DIR) + "/shrink-rt", args, cwd);
}

/// The first 20 test images as x.npy {20, 1, 28, 28}.
void write_images(const std::string& path) {
  const ir::Dataset d = ir::load_dataset("fashion-mnist", ir::Split::Test, 20);
  ir::Shape shape{d.size};
  shape.insert(shape.end(), d.sample_shape.begin(), d.sample_shape.end());
  ir::write_npy(path, ir::Tensor(shape, d.x));
}

/// The number after "key": in a one-line JSON object.
double json_number(const std::string& s, const std::string& key) {
  const size_t k = s.find("\"" + key + "\":");
  if (k == std::string::npos) return NAN;
  return std::strtod(s.c_str() + k + key.size() + 3, nullptr);
}

/// Quantizes (or not), exports to .shr, and checks run and eval against shrink.
void expect_bit_exact(const std::string& quantize_args, const std::string& name, const std::string& zoo = "lenet5") {
  TempDir t;
  const std::string model = trained_model(zoo);
  std::string h5 = model;
  if (!quantize_args.empty()) {
    CmdResult r = run_shrink("quantize '" + model + "' --data fashion-mnist " + quantize_args +
                                 " --calibration 200 --limit 200 --threads 1 -o q.h5",
                             t.path());
    ASSERT_EQ(r.code, 0) << r.err;
    h5 = t / "q.h5";
  }
  CmdResult r = run_shrink("export '" + h5 + "' --format shr -o q.shr", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  write_images(t / "x.npy");
  r = run_shrink("infer '" + h5 + "' --input x.npy -o want.npy --threads 1 --dump-layers d1", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_rt("run q.shr --input x.npy -o got.npy --dump-layers d2", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  // Every tensor both dumped (the input as the first layer sees it, every layer's output) is
  // the same: float32, integers dequantized. (Quantized models only: in an fp32 model with
  // BatchNorm, the runtime's convolution output already includes the folded BatchNorm.)
  if (!quantize_args.empty()) {
    r = run_shrink("compare d1 d2 --model '" + h5 + "'", t.path());
    EXPECT_EQ(r.code, 0) << name << ": " << r.out << r.err;
    EXPECT_NE(r.out.find("no difference in "), std::string::npos) << r.out;
    EXPECT_GE(std::atoi(r.out.c_str() + std::string("no difference in ").size()), 7) << r.out;
  }
  const ir::NpyArray want = ir::read_npy(t / "want.npy"), got = ir::read_npy(t / "got.npy");
  ASSERT_EQ(want.shape, got.shape) << name;
  ASSERT_EQ(want.f32.size(), 200u);
  if (quantize_args.empty()) {
    float biggest = 0;
    for (float v : want.f32) biggest = std::max(biggest, std::fabs(v));
    for (size_t i = 0; i < want.f32.size(); ++i) EXPECT_NEAR(got.f32[i], want.f32[i], 1e-4f * std::max(1.0f, biggest)) << i;
    return;
  }
  EXPECT_EQ(std::memcmp(want.f32.data(), got.f32.data(), want.f32.size() * sizeof(float)), 0) << name;
  for (size_t i = 0; i < want.f32.size(); ++i) ASSERT_EQ(got.f32[i], want.f32[i]) << name << " value " << i;

  // LeNet-5 on 500 test images; MobileNetV2 (23 M MACs, simulated in float64) on 200.
  const std::string n = zoo == "lenet5" ? "500" : "200";
  r = run_shrink("eval '" + h5 + "' --data fashion-mnist --limit " + n + " --json --threads 1", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  CmdResult e = run_rt("eval q.shr --data fashion-mnist --limit " + n + " --json", t.path());
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(json_number(e.out, "accuracy"), json_number(r.out, "accuracy")) << name << ": " << e.out << " vs " << r.out;
  EXPECT_EQ(json_number(e.out, "n"), std::stod(n));
  EXPECT_NEAR(json_number(e.out, "loss"), json_number(r.out, "loss"), 1e-5) << name;
}

TEST(CliShrinkRt, Int8LeNet5IsBitExact) { expect_bit_exact("--scheme fixed --bits 8", "int8"); }
TEST(CliShrinkRt, Int16LeNet5IsBitExact) { expect_bit_exact("--scheme fixed --bits 16", "int16"); }
TEST(CliShrinkRt, KmeansLeNet5IsBitExact) { expect_bit_exact("--scheme kmeans --index-bits 4", "kmeans"); }
TEST(CliShrinkRt, Fp32LeNet5WithinTolerance) { expect_bit_exact("", "fp32"); }
// MobileNetV2 (zoo, width 0.5): depthwise convolutions, residual Adds, ReLU6, global pooling.
TEST(CliShrinkRt, Int8MobileNetV2IsBitExact) { expect_bit_exact("--scheme fixed --bits 8", "int8", "mobilenetv2"); }
TEST(CliShrinkRt, Int16MobileNetV2IsBitExact) { expect_bit_exact("--scheme fixed --bits 16", "int16", "mobilenetv2"); }
TEST(CliShrinkRt, KmeansMobileNetV2IsBitExact) {
  expect_bit_exact("--scheme kmeans --index-bits 4", "kmeans", "mobilenetv2");
}
TEST(CliShrinkRt, Fp32MobileNetV2WithinTolerance) { expect_bit_exact("", "fp32", "mobilenetv2"); }

TEST(CliShrinkRt, BenchInspectAndDumps) {
  TempDir t;
  CmdResult r = run_shrink("export '" + trained_model() + "' --format shr -o m.shr", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_rt("bench m.shr --iters 5 --json", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GT(json_number(r.out, "batch1_median_us"), 0.0) << r.out;
  EXPECT_NE(r.out.find("\"layers\":[{\"name\":\"conv1\",\"op\":\"Conv2d\",\"median_us\":"), std::string::npos) << r.out;
  r = run_rt("inspect m.shr", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("flash " + std::to_string(fs::file_size(t / "m.shr")) + " bytes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("conv2d_f32"), std::string::npos) << r.out;
  write_images(t / "x.npy");
  r = run_rt("run m.shr --input x.npy -o y.npy --dump-layers dump", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  // The last dumped tensor is the output itself.
  const ir::NpyArray y = ir::read_npy(t / "y.npy"), fc2 = ir::read_npy(t / "dump/fc2.npy");
  EXPECT_EQ(fc2.shape, (ir::Shape{20, 10}));
  EXPECT_EQ(fc2.f32, y.f32);
  EXPECT_EQ(ir::read_npy(t / "dump/conv1.npy").shape, (ir::Shape{20, 20, 24, 24}));
}

TEST(CliShrinkRt, BadInputIsOneLineExit2) {
  TempDir t;
  {
    std::ofstream f(t / "junk.shr");
    f << "not a model";
  }
  for (const std::string args : {"run junk.shr --input x.npy -o y.npy", "inspect missing.shr", "bench junk.shr",
                                 "eval junk.shr --data fashion-mnist", "eval junk.shr", "run", "frobnicate m.shr",
                                 "bench junk.shr --threads 4"}) {
    CmdResult r = run_rt(args, t.path());
    EXPECT_EQ(r.code, 2) << args << ": " << r.err;
    EXPECT_EQ(line_count(r.err), 1) << args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("shrink-rt: ", 0), 0u) << args << ": " << r.err;
  }
}

}  // namespace
}  // namespace shrink::clitest
