// Interoperability with PyTorch's ONNX exporter and ONNX Runtime, through the built programs:
//   tests/tools/make_onnx_models.py  (Debian's python3-torch / python3-torchvision) exports the
//                                    models and a float32 input batch of 2;
//   tests/tools/ort_run.js           runs ONNX Runtime (npm onnxruntime-node, `make deps`);
//   shrink import / infer / export   must give ONNX Runtime's outputs within kRelTol, and so must
//   shrink-rt run                    on the fp32 .shr export of the imported model.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "compress/ir/model_file.h"
#include "compress/ir/npy.h"
#include "tests/ir/test_graphs.h"

namespace shrink {
namespace {

namespace fs = std::filesystem;

/// max |shrink - ORT| <= kRelTol * max |ORT| (float32 LibTorch vs ONNX Runtime kernels).
constexpr double kRelTol = 1e-4;
/// Image size of the torchvision models (their ImageNet size: the real shapes, ~10 s in all).
constexpr int kImageSize = 224;

const std::string kSource = SHRINK_SOURCE_DIR;
const std::string kBin = SHRINK_BIN_DIR;

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct Result {
  int code = -1;
  std::string output;  ///< stdout and stderr together
};

Result run(const std::string& cmd) {
  Result r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string python() { return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"; }
std::string node_modules() { return kSource + "/.deps/node/node_modules"; }
std::string shrink_bin() { return kBin + "/shrink"; }

class OnnxInteropTest : public ::testing::Test {
 protected:
  // ctest runs every test in its own process: the exported models are made once per build
  // folder (SHRINK_BINARY_DIR/tests/onnx_models, remade when the script is newer) and moved into
  // place by a rename, so parallel tests never see a half-written folder. Each process works in
  // its own temporary folder.
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/shrink_onnx_interop_XXXXXX";
    if (!mkdtemp(tmpl)) {
      setup_error_ = "mkdtemp failed";
      return;
    }
    work_ = tmpl;
    const std::string script = kSource + "/tests/tools/make_onnx_models.py";
    models_ = std::string(SHRINK_BINARY_DIR) + "/tests/onnx_models";
    const std::string stamp = models_ + "/done";
    std::error_code ec;
    if (fs::exists(stamp) && fs::last_write_time(stamp) >= fs::last_write_time(script)) return;
    const std::string fresh = work_ + "/models";
    const Result r = run(python() + " " + quote(script) + " " + quote(fresh) + " --size " +
                         std::to_string(kImageSize) + " && touch " + quote(fresh + "/done"));
    if (r.code != 0) {
      setup_error_ = "make_onnx_models.py failed (exit " + std::to_string(r.code) + "): " + r.output;
      return;
    }
    fs::create_directories(fs::path(models_).parent_path(), ec);
    const std::string old = models_ + ".old." + std::to_string(getpid());
    fs::rename(models_, old, ec);  // absent or stale
    fs::remove_all(old, ec);
    fs::rename(fresh, models_, ec);
    if (ec && !fs::exists(stamp)) setup_error_ = "cannot move the models to " + models_ + ": " + ec.message();
  }
  static void TearDownTestSuite() {
    if (!work_.empty()) fs::remove_all(work_);
  }
  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    ASSERT_TRUE(fs::exists(node_modules() + "/onnxruntime-node"))
        << "onnxruntime-node not found under " << node_modules() << ": run make deps";
    ASSERT_TRUE(fs::exists(shrink_bin())) << shrink_bin() << " not built";
  }

  /// A file made by make_onnx_models.py.
  static std::string model(const std::string& name) { return models_ + "/" + name; }
  /// A file of this process's own.
  static std::string path(const std::string& name) { return work_ + "/" + name; }

  /// ONNX Runtime's output for `model` on `input`, written to `out`.
  static void ort(const std::string& model, const std::string& input, const std::string& out) {
    const Result r = run("node " + quote(kSource + "/tests/tools/ort_run.js") + " " + quote(model) + " " +
                         quote(input) + " " + quote(out) + " " + quote(node_modules()));
    ASSERT_EQ(r.code, 0) << "ort_run.js " << model << ": " << r.output;
  }

  static void expect_close(const std::string& ref_file, const std::string& got_file, const std::string& what) {
    const ir::NpyArray ref = ir::read_npy(ref_file);
    const ir::NpyArray got = ir::read_npy(got_file);
    ASSERT_FALSE(ref.is_int64);
    ASSERT_FALSE(got.is_int64);
    ASSERT_EQ(got.shape, ref.shape) << what;
    double max_ref = 0.0, max_diff = 0.0, min_v = ref.f32.at(0), max_v = ref.f32.at(0);
    for (size_t i = 0; i < ref.f32.size(); ++i) {
      ASSERT_TRUE(std::isfinite(got.f32[i])) << what << ": element " << i << " is " << got.f32[i];
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(ref.f32[i])));
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(got.f32[i]) - ref.f32[i]));
      min_v = std::min<double>(min_v, ref.f32[i]);
      max_v = std::max<double>(max_v, ref.f32[i]);
    }
    ASSERT_GT(max_v - min_v, 0.0) << what << ": ONNX Runtime's output is constant; the comparison would prove nothing";
    EXPECT_LE(max_diff, kRelTol * max_ref) << what << ": max |diff| " << max_diff << ", max |ref| " << max_ref;
  }

  /// import -> infer matches ORT; export back to ONNX -> ORT matches ORT on the original; export
  /// to an fp32 .shr -> shrink-rt run matches ORT.
  static void check_model(const std::string& name, const std::string& input_name) {
    const std::string onnx = model(name + ".onnx"), x = model(input_name);
    const std::string ref = path(name + "_ort.npy"), h5 = path(name + ".h5"), y = path(name + "_shrink.npy");
    const std::string back = path(name + "_back.onnx"), back_ref = path(name + "_back_ort.npy");
    ASSERT_NO_FATAL_FAILURE(ort(onnx, x, ref));

    Result r = run(quote(shrink_bin()) + " import " + quote(onnx) + " -o " + quote(h5));
    ASSERT_EQ(r.code, 0) << "shrink import " << name << ": " << r.output;
    r = run(quote(shrink_bin()) + " infer " + quote(h5) + " --input " + quote(x) + " -o " + quote(y));
    ASSERT_EQ(r.code, 0) << "shrink infer " << name << ": " << r.output;
    expect_close(ref, y, name + ": shrink infer vs ONNX Runtime");

    r = run(quote(shrink_bin()) + " export " + quote(h5) + " --format onnx -o " + quote(back));
    ASSERT_EQ(r.code, 0) << "shrink export " << name << ": " << r.output;
    ASSERT_NO_FATAL_FAILURE(ort(back, x, back_ref));
    expect_close(ref, back_ref, name + ": ONNX Runtime on shrink's export vs on the original");

    const std::string shr = path(name + ".shr"), y_rt = path(name + "_rt.npy");
    r = run(quote(shrink_bin()) + " export " + quote(h5) + " --format shr -o " + quote(shr));
    ASSERT_EQ(r.code, 0) << "shrink export --format shr " << name << ": " << r.output;
    r = run(quote(kBin + "/shrink-rt") + " run " + quote(shr) + " --input " + quote(x) + " -o " + quote(y_rt));
    ASSERT_EQ(r.code, 0) << "shrink-rt run " << name << ": " << r.output;
    expect_close(ref, y_rt, name + ": shrink-rt on the fp32 .shr vs ONNX Runtime");
  }

  static std::string models_, work_;
  static std::string setup_error_;
};

std::string OnnxInteropTest::models_;
std::string OnnxInteropTest::work_;
std::string OnnxInteropTest::setup_error_;

const std::string kImageInput = "x_" + std::to_string(kImageSize) + ".npy";

TEST_F(OnnxInteropTest, MobileNetV2MatchesOnnxRuntime) { check_model("mobilenet_v2", kImageInput); }

TEST_F(OnnxInteropTest, ResNet18MatchesOnnxRuntime) { check_model("resnet18", kImageInput); }

TEST_F(OnnxInteropTest, LeNet5MatchesOnnxRuntime) { check_model("lenet5", "x_28.npy"); }

TEST_F(OnnxInteropTest, LeNet5Opset11ClipReshapeSoftmaxMatchesOnnxRuntime) {
  check_model("lenet5_op11", "x_28.npy");
}

TEST_F(OnnxInteropTest, LeNet5Opset17BatchNormConcatMatMulMatchesOnnxRuntime) {
  check_model("lenet5_op17", "x_28.npy");
}

// The exported Sub / Div of meta.mean / meta.std make ONNX Runtime take raw input like shrink.
TEST_F(OnnxInteropTest, ExportWithInputNormalizationMatchesShrinkInfer) {
  ir::Graph g = test::make_test_lenet5();
  ASSERT_FALSE(g.meta.mean.empty());
  ASSERT_FALSE(g.meta.std.empty());
  const std::string h5 = path("norm.h5"), y = path("norm_shrink.npy"), back = path("norm.onnx");
  const std::string y_ort = path("norm_ort.npy"), x = model("x_28.npy");
  ir::save_model(g, h5);
  Result r = run(quote(shrink_bin()) + " infer " + quote(h5) + " --input " + quote(x) + " -o " + quote(y));
  ASSERT_EQ(r.code, 0) << "shrink infer: " << r.output;
  r = run(quote(shrink_bin()) + " export " + quote(h5) + " --format onnx -o " + quote(back));
  ASSERT_EQ(r.code, 0) << "shrink export: " << r.output;
  ASSERT_NO_FATAL_FAILURE(ort(back, x, y_ort));
  expect_close(y_ort, y, "normalized LeNet-5: shrink infer vs ONNX Runtime on shrink's export");
}

TEST_F(OnnxInteropTest, UnsupportedOpExits2WithOneLineNamingOpAndNode) {
  const std::string out = path("unsupported.h5");
  const Result r = run(quote(shrink_bin()) + " import " + quote(model("unsupported.onnx")) + " -o " + quote(out));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("unsupported op 'Mod'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("node '/Mod'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("unsupported.onnx"), std::string::npos) << r.output;
  std::string trimmed = r.output;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  EXPECT_EQ(trimmed.find('\n'), std::string::npos) << "expected one line, got: " << r.output;
  EXPECT_FALSE(fs::exists(out)) << "a failed import must not leave an output file";
}

}  // namespace
}  // namespace shrink
