// shrink shunt on the trained MobileNetV2 fixture: the KQ table as JSON, a shunt over blocks 8-10
// trained in both phases, then quantized to int8 and exported to .shr like any model (bit-exact
// with shrink infer); bad input is one line and exit 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "compress/ir/dataset.h"
#include "compress/ir/model_file.h"
#include "compress/ir/npy.h"
#include "tests/cli/cli_util.h"

namespace shrink::clitest {
namespace {

TEST(CliShunt, KqOnlyPrintsEveryResidualBlockAsJson) {
  TempDir t;
  const std::string m = trained_model("mobilenetv2");
  CmdResult r = run_shrink("shunt '" + m + "' --data fashion-mnist --kq-only --json --limit 200", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["blocks"].size(), 10u) << r.out;
  std::vector<int> ids;
  const double acc = j["accuracy"];
  EXPECT_GT(acc, 0.1);  // the fixture (500 images, 1 epoch) is weak, but better than chance
  EXPECT_EQ(j["images"], 200);
  int64_t macs = 0;
  for (const auto& b : j["blocks"]) {
    ids.push_back(b["id"]);
    EXPECT_EQ(b["name"], "block" + std::to_string(b["id"].get<int>()));
    EXPECT_GT(b["macs"].get<int64_t>(), 0);
    macs += b["macs"].get<int64_t>();
    EXPECT_NEAR(b["kq"].get<double>(), 1.0 - b["accuracy_without"].get<double>() / acc, 1e-12);
  }
  EXPECT_EQ(ids, (std::vector<int>{3, 5, 6, 8, 9, 10, 12, 13, 15, 16}));
  EXPECT_LT(macs, j["macs"].get<int64_t>());
  // The table form names the columns.
  r = run_shrink("shunt '" + m + "' --data fashion-mnist --kq-only --limit 50", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("KQ"), std::string::npos);
  EXPECT_NE(r.out.find("block16"), std::string::npos) << r.out;
}

TEST(CliShunt, ShuntedModelTrainsQuantizesAndExportsBitExact) {
  TempDir t;
  const std::string m = trained_model("mobilenetv2");
  CmdResult r = run_shrink("shunt '" + m +
                               "' --data fashion-mnist --blocks block8-block10 --arch arch2 --shunt-epochs 1 --epochs 1 "
                               "--train-limit 256 --limit 200 --compare-plain --json -o s.h5",
                           t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["run"]["first"], 8);
  EXPECT_EQ(j["run"]["last"], 10);
  EXPECT_EQ(j["shunt"]["arch"], "arch2");
  EXPECT_LT(j["macs_after"].get<int64_t>(), j["macs_before"].get<int64_t>());
  EXPECT_EQ(j["macs_before"].get<int64_t>() - j["macs_after"].get<int64_t>(),
            j["run"]["macs"].get<int64_t>() - j["shunt"]["macs"].get<int64_t>());
  for (const char* k : {"original", "inserted", "shunt_trained", "kd", "plain"})
    EXPECT_TRUE(j["accuracy"][k].is_number()) << k << " " << r.out;
  EXPECT_LT(j["mse"]["shunt_trained"].get<double>(), j["mse"]["inserted"].get<double>());
  const ir::Graph s = ir::load_model(t / "s.h5");
  EXPECT_NE(s.find("shunt.dw2"), nullptr);
  EXPECT_EQ(s.find("block9.dw"), nullptr);

  r = run_shrink("quantize s.h5 --data fashion-mnist --bits 8 --calibration 200 --limit 200 --threads 1 -o q.h5", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_shrink("export q.h5 --format shr -o q.shr", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const ir::Dataset d = ir::load_dataset("fashion-mnist", ir::Split::Test, 20);
  ir::write_npy(t / "x.npy", ir::Tensor({20, 1, 28, 28}, d.x));
  r = run_shrink("infer q.h5 --input x.npy -o want.npy --threads 1", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_program(std::string(SHRINK_BIN_DIR) + "/shrink-rt", "run q.shr --input x.npy -o got.npy", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ir::read_npy(t / "want.npy").f32, ir::read_npy(t / "got.npy").f32);
}

TEST(CliShunt, BadInputIsOneLineAndExit2) {
  TempDir t;
  const std::string mb = trained_model("mobilenetv2"), lenet = trained_model("lenet5");
  expect_bad_input(run_shrink("shunt '" + lenet + "' --data fashion-mnist --kq-only", t.path()), "no residual blocks");
  expect_bad_input(run_shrink("shunt '" + mb + "' --data fashion-mnist --blocks 8-99 -o s.h5", t.path()), "no block '99'");
  expect_bad_input(run_shrink("shunt '" + mb + "' --data fashion-mnist --blocks 15-20 -o s.h5", t.path()),
                   "no shunt fits");
  expect_bad_input(run_shrink("shunt '" + mb + "' --data fashion-mnist --blocks 0-3 -o s.h5", t.path()),
                   "reads the model's input");
  expect_bad_input(run_shrink("shunt '" + mb + "' --data fashion-mnist --blocks 8-10 --arch arch7 -o s.h5", t.path()),
                   "unknown architecture");
  expect_bad_input(run_shrink("shunt '" + mb + "' --data fashion-mnist --auto --kq-only", t.path()), "exactly one of");
  expect_bad_input(run_shrink("shunt '" + mb + "' --data fashion-mnist --auto --max-kq -5 --limit 100 -o s.h5", t.path()),
                   "no run of blocks");
  EXPECT_FALSE(fs::exists(t / "s.h5"));
}

TEST(CliShunt, RecipeRunsKqShuntKdQuantizeAndExport) {
  TempDir t;
  // recipes/mobilenetv2-shunt.yaml as shipped, made short; max_kq 100 lets the weak model choose.
  CmdResult r = run_shrink(std::string("run '") + SHRINK_SOURCE_DIR +
                               "/recipes/mobilenetv2-shunt.yaml' -o out --set train.epochs=1 --set train.limit=512 "
                               "--set data.val_limit=200 --set data.test_limit=200 --set data.calibration=100 "
                               "--set shunt.kq_limit=100 --set shunt.max_kq=100 --set shunt.train.epochs=1 "
                               "--set shunt.train.limit=256 --set shunt.finetune.epochs=1 --set shunt.finetune.limit=256",
                           t.path());
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  const fs::path out = t.path() / "out";
  const nlohmann::json j = nlohmann::json::parse(slurp(out / "report.json"));
  const nlohmann::json* shunt = nullptr;
  for (const auto& st : j["stages"])
    if (st["name"] == "shunt") shunt = &st;
  ASSERT_NE(shunt, nullptr) << j.dump();
  const nlohmann::json& x = (*shunt)["extra"];
  EXPECT_EQ(x["kq"]["blocks"].size(), 10u);
  EXPECT_EQ(x["kq"]["images"], 100);
  EXPECT_LT(x["macs_after"].get<int64_t>(), x["macs_before"].get<int64_t>());
  EXPECT_EQ((*shunt)["macs"], x["macs_after"]);
  for (const char* k : {"original", "inserted", "shunt_trained", "kd", "plain"})
    EXPECT_TRUE(x["accuracy"][k].is_number()) << k;
  EXPECT_EQ((*shunt)["accuracy"], x["accuracy"]["kd"]);
  // The shunted model went on through int8 quantization to a .shr the runtime evaluated.
  EXPECT_GT(j["stages"].back()["extra"]["runtime"]["accuracy"].get<double>(), 0.1);
  const std::string html = slurp(out / "report.html");
  EXPECT_NE(html.find("Knowledge Quotient of every residual block"), std::string::npos);
  EXPECT_NE(html.find("fine-tuned with knowledge distillation"), std::string::npos);
  EXPECT_NE(html.find("block16"), std::string::npos);
}

}  // namespace
}  // namespace shrink::clitest
