// shrink run --resume: a run SIGKILLed in the middle of a fine-tuning stage and resumed ends
// with exactly the numbers (and the .shr file) of a run never stopped; --resume refuses a folder
// holding a run of another recipe.
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"

namespace shrink::clitest {
namespace {

// Short: 1 epoch of training and 3 of fine-tuning on 2,000 images, int8, .shr measured by the runtime.
const char* const kRecipe = R"(name: resume
model: {zoo: lenet5}
data: {dataset: fashion-mnist, val_limit: 500, test_limit: 1000, calibration: 500}
seed: 5
threads: 1
stages:
  - train: {epochs: 1, limit: 2000}
  - finetune: {epochs: 3, limit: 2000, lr: 5e-4}
  - quantize: {scheme: fixed, bits: 8}
  - export: {formats: [shr]}
)";

TEST(CliResume, KilledInFinetuneEpochTwoResumesToTheSameResult) {
  TempDir t;
  write(t / "recipe.yaml", kRecipe);
  CmdResult a = run_shrink("run recipe.yaml -o A --threads 1", t.path());
  ASSERT_EQ(a.code, 0) << a.err << a.out;

  // B: killed once the finetune stage has written its epoch-1 checkpoint (it is then in epoch 2).
  const fs::path ckpt = t.path() / "B" / "checkpoint";
  const pid_t pid = spawn_shrink({"run", "recipe.yaml", "-o", "B", "--threads", "1"}, t.path());
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(kill_once_exists(pid, ckpt / "02-finetune.train-0.pt", false))
      << "no finetune checkpoint appeared: " << slurp(t.path() / ".spawn.stderr");
  // Killed inside the stage: train finished (its record is there), finetune and later stages not.
  EXPECT_TRUE(fs::exists(ckpt / "01-train.json"));
  EXPECT_FALSE(fs::exists(ckpt / "02-finetune.json"));
  EXPECT_FALSE(fs::exists(t.path() / "B" / "report.json"));

  CmdResult b = run_shrink("run recipe.yaml -o B --threads 1 --resume", t.path());
  ASSERT_EQ(b.code, 0) << b.err << b.out;
  EXPECT_NE(b.out.find("[1/4] train: finished before"), std::string::npos) << b.out;
  EXPECT_NE(b.err.find("after epoch 1/3"), std::string::npos) << b.err;  // finetune continued, not restarted

  const nlohmann::json ja = nlohmann::json::parse(slurp(t.path() / "A" / "report.json"));
  const nlohmann::json jb = nlohmann::json::parse(slurp(t.path() / "B" / "report.json"));
  for (const char* k : {"accuracy", "runtime_accuracy", "bytes", "test_accuracy"})
    EXPECT_EQ(ja["final"][k], jb["final"][k]) << k;
  EXPECT_GT(ja["final"]["runtime_accuracy"].get<double>(), 0.5);
  EXPECT_EQ(ja["baseline"]["accuracy"], jb["baseline"]["accuracy"]);
  ASSERT_EQ(ja["stages"].size(), 4u);
  ASSERT_EQ(jb["stages"].size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(ja["stages"][i]["accuracy"], jb["stages"][i]["accuracy"]) << i;
    EXPECT_EQ(ja["stages"][i]["bytes"], jb["stages"][i]["bytes"]) << i;
  }
  EXPECT_EQ(slurp(t.path() / "A/stages/04-export/model.shr"), slurp(t.path() / "B/stages/04-export/model.shr"));
  // Epoch checkpoints of finished stages are removed.
  EXPECT_FALSE(fs::exists(ckpt / "02-finetune.train-0.pt"));
}

TEST(CliResume, RefusesAFolderOfAnotherRecipe) {
  TempDir t;
  write(t / "recipe.yaml",
        "name: short\nmodel: {zoo: lenet300}\ndata: {dataset: fashion-mnist, val_limit: 200, test_limit: 200}\n"
        "stages:\n  - train: {epochs: 1, limit: 300}\n");
  CmdResult a = run_shrink("run recipe.yaml -o out --threads 1", t.path());
  ASSERT_EQ(a.code, 0) << a.err;
  // The same recipe with another value is another run.
  CmdResult r = run_shrink("run recipe.yaml -o out --resume --set train.epochs=2", t.path());
  expect_bad_input(r, "holds a run of another recipe");
  EXPECT_NE(r.err.find("drop --resume"), std::string::npos) << r.err;
  // So is another seed.
  expect_bad_input(run_shrink("run recipe.yaml -o out --resume --seed 9", t.path()), "another recipe");
  // The same one resumes: every stage finished, nothing runs again, the report is rewritten the same.
  const std::string before = slurp(t.path() / "out" / "report.json");
  CmdResult same = run_shrink("run recipe.yaml -o out --resume --threads 1", t.path());
  ASSERT_EQ(same.code, 0) << same.err;
  EXPECT_NE(same.out.find("[1/1] train: finished before"), std::string::npos) << same.out;
  EXPECT_EQ(slurp(t.path() / "out" / "report.json"), before);
}

}  // namespace
}  // namespace shrink::clitest
