// Every recipe in recipes/ runs as shipped, made short with --set, so none can rot: each ends
// with a report whose final numbers are measured (and, with an .shr export, the runtime's).
#include <gtest/gtest.h>

#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"

namespace shrink::clitest {
namespace {

const std::string kShort = "--set data.val_limit=200 --set data.test_limit=200 --set data.calibration=100 ";

const std::string kDeepCompression =
    "--set train.epochs=1 --set train.limit=512 --set prune.finetune.epochs=1 --set prune.finetune.limit=512 "
    "--set finetune.limit=512";

/// Overrides that make each recipe short (training on a few hundred images). A recipe missing
/// here fails the test: add it with its overrides.
const std::map<std::string, std::string>& overrides() {
  static const std::map<std::string, std::string> m = {
      {"default.yaml", "--set train.epochs=1 --set train.limit=512"},
      {"lenet5-train.yaml", "--set train.epochs=1 --set train.limit=512"},
      {"lenet5-int8.yaml", "--set train.epochs=1 --set train.limit=512"},
      {"lenet300-deep-compression.yaml", kDeepCompression},
      {"lenet5-deep-compression.yaml", kDeepCompression},
      {"lenet5-mixed-precision.yaml", "--set train.epochs=1 --set train.limit=512 --set sweep.limit=200 "
                                      "--set sweep.calibration=100 --set \"sweep.bits=['4', '8']\""},
      // Run with its own checks by CliShunt.RecipeRunsKqShuntKdQuantizeAndExport.
      {"mobilenetv2-shunt.yaml", ""},
      // {pytorch-lenet5}: an ONNX file the recipe's own instructions make (PyTorch, 1 epoch here).
      {"onnx-import.yaml", "--set model.onnx={pytorch-lenet5}"},
  };
  return m;
}

/// examples/pytorch/lenet5_fashion.py (the script onnx-import.yaml names) run briefly: the path
/// of the ONNX file it wrote into `dir`.
std::string pytorch_lenet5(const fs::path& dir) {
  const std::string py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  const std::string onnx = (dir / "lenet5-pytorch.onnx").string();
  const std::string script = (fs::path(SHRINK_SOURCE_DIR) / "examples/pytorch/lenet5_fashion.py").string();
  CmdResult r = run_program(py, "'" + script + "' '" + onnx + "' --epochs 1 --limit 512 --threads 1", dir);
  EXPECT_EQ(r.code, 0) << r.err << r.out;
  return onnx;
}

TEST(CliRecipes, EveryShippedRecipeRunsShortened) {
  const fs::path dir = fs::path(SHRINK_SOURCE_DIR) / "recipes";
  int ran = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".yaml") continue;
    auto it = overrides().find(name);
    ASSERT_NE(it, overrides().end()) << "recipes/" << name << " is not run by any test: add it to overrides()";
    if (it->second.empty()) continue;
    SCOPED_TRACE(name);
    TempDir t;
    std::string set = it->second;
    const std::string marker = "{pytorch-lenet5}";
    if (auto p = set.find(marker); p != std::string::npos) set.replace(p, marker.size(), "'" + pytorch_lenet5(t.path()) + "'");
    CmdResult r = run_shrink("run '" + e.path().string() + "' -o out " + kShort + set, t.path());
    ASSERT_EQ(r.code, 0) << r.err << r.out;
    const nlohmann::json j = nlohmann::json::parse(slurp(t.path() / "out" / "report.json"));
    EXPECT_GT(j["final"]["accuracy"].get<double>(), 0.3) << r.out;
    EXPECT_GT(j["baseline"]["accuracy"].get<double>(), 0.3);
    EXPECT_GT(j["final"]["bytes"].get<int64_t>(), 0);
    bool exports_shr = r.out.find("model.shr") != std::string::npos;
    if (exports_shr) {
      EXPECT_TRUE(j["final"]["runtime_accuracy"].is_number()) << r.out;
    }
    EXPECT_TRUE(fs::exists(t.path() / "out" / "report.md"));
    // Deep Compression's size comes from the pruning level, the codebook and the storage, not from
    // training: even shortened, the deployed file must be over 20x smaller than fp32.
    if (name.find("deep-compression") != std::string::npos) {
      EXPECT_GT(j["final"]["ratio"].get<double>(), 20.0) << j["final"].dump();
      for (const auto& l : j["final"]["layers"]) {  // every weighted layer deployed as a k-means codebook
        if (l["op"] == "Conv2d" || l["op"] == "Linear") {
          EXPECT_EQ(l["weights"].get<std::string>().rfind("k-means ", 0), 0u) << l.dump();
          EXPECT_NE(l["storage"].get<std::string>().find("codebook"), std::string::npos) << l.dump();
          EXPECT_GT(l["bytes"].get<int64_t>(), 0) << l.dump();
        }
      }
    }
    for (const auto& st : j["stages"]) {  // a sweep that applies its choice measured that model
      if (st["name"] == "sweep" && st["extra"].contains("chosen")) {
        EXPECT_EQ(st["accuracy"], st["extra"]["chosen"]["accuracy"]) << st.dump();
      }
    }
    ++ran;
  }
  EXPECT_GE(ran, 4);
}

}  // namespace
}  // namespace shrink::clitest
