// Distributed runs as a user starts them (`shrink launch -n 2 -- ...` over loopback): a sharded
// LeNet-5 sweep gives the single-process records, --resume completes only the missing points,
// data-parallel fine-tuning matches one process within kTrainTolerance, and failures end the
// job with one line naming the rank.
#include <algorithm>
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "compress/ir/model_file.h"
#include "tests/cli/cli_util.h"

namespace shrink::clitest {
namespace {

// Largest |w_2 processes - w_1 process| over every weight after one epoch of fine-tuning
// (finetune defaults, 2,000 images, 32 steps). The two runs compute the same gradients summed in
// another order (two half-batch means averaged by Gloo instead of one mean), so they differ by
// float rounding that Adam's normalisation can amplify for near-zero gradients; measured
// 6.3e-7 on LeNet-5 (weights move up to 1.7e-3 in that epoch).
constexpr double kTrainTolerance = 1e-5;

const char* kSweep = " --data fashion-mnist --methods fixed,kmeans --bits 4,8 --kmeans-bits 2 --limit 300 "
                     "--calibration 300 --workers 1 --threads 1";

/// The records of DIR/report.json without their wall times (everything else must be equal).
nlohmann::json records(const fs::path& dir) {
  nlohmann::json j = nlohmann::json::parse(slurp(dir / "report.json"));
  nlohmann::json out = j.at("sensitivity");
  for (auto& r : out) r.erase("seconds");
  return out;
}

TEST(DistCliTest, ShardedSweepEqualsSingleProcessAndResumes) {
  const std::string model = trained_model();
  TempDir d;
  CmdResult one = run_shrink("sweep '" + model + "'" + kSweep + " -o one", d.path());
  ASSERT_EQ(one.code, 0) << one.err;
  CmdResult two = run_shrink("launch -n 2 -- sweep '" + model + "'" + kSweep + " -o two", d.path());
  ASSERT_EQ(two.code, 0) << two.err;
  EXPECT_NE(two.out.find("[rank 0] sweep of lenet5: 24 records"), std::string::npos) << two.out;
  EXPECT_EQ(two.out.find("[rank 1] sweep of"), std::string::npos) << two.out;  // rank 0 reports
  // Equal with the same --threads (LibTorch's float reductions depend on the thread count).
  const nlohmann::json a = records(d.path() / "one"), b = records(d.path() / "two");
  ASSERT_EQ(a.size(), 24u);
  EXPECT_EQ(a, b);
  // The journal holds every point once (rank 0's as they finished, the others' when gathered).
  std::string journal = slurp(d.path() / "two" / "points.jsonl");
  EXPECT_EQ(line_count(journal), 25);

  // Lose 9 points, resume with 2 processes: only those are measured again.
  {
    size_t cut = journal.size();
    for (int i = 0; i <= 9; ++i) cut = journal.rfind('\n', cut - 1);
    std::ofstream f(d.path() / "two" / "points.jsonl", std::ios::trunc);
    f << journal.substr(0, cut + 1);
  }
  CmdResult again = run_shrink("launch -n 2 -- sweep '" + model + "'" + kSweep + " --resume -o two", d.path());
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("[rank 0] resuming: 15 points already measured"), std::string::npos) << again.err;
  EXPECT_EQ(records(d.path() / "two"), a);
  EXPECT_EQ(line_count(slurp(d.path() / "two" / "points.jsonl")), 25);
}

TEST(DistCliTest, ShardedPruningSweepEqualsSingleProcess) {
  const std::string model = trained_model();
  TempDir d;
  const std::string args = " --data fashion-mnist --methods l1,magnitude --levels 0.25,0.5 --limit 300 --samples 100 "
                           "--workers 1 --threads 1";
  CmdResult one = run_shrink("sweep '" + model + "'" + args + " -o one", d.path());
  ASSERT_EQ(one.code, 0) << one.err;
  CmdResult two = run_shrink("launch -n 2 -- sweep '" + model + "'" + args + " -o two", d.path());
  ASSERT_EQ(two.code, 0) << two.err;
  auto pruning = [&](const char* dir) {
    nlohmann::json r = nlohmann::json::parse(slurp(d.path() / dir / "report.json")).at("pruning");
    for (auto& x : r) x.erase("seconds");
    return r;
  };
  ASSERT_GT(pruning("one").size(), 4u);
  EXPECT_EQ(pruning("one"), pruning("two"));
}

TEST(DistCliTest, DataParallelFineTuneMatchesOneProcess) {
  const std::string model = trained_model();
  TempDir d;
  const std::string args = " --data fashion-mnist --epochs 1 --train-limit 2000 --seed 3 --threads 1 ";
  CmdResult one = run_shrink("finetune '" + model + "'" + args + "-o one.h5", d.path());
  ASSERT_EQ(one.code, 0) << one.err;
  CmdResult two = run_shrink("launch -n 2 -- finetune '" + model + "'" + args + "-o two.h5", d.path());
  ASSERT_EQ(two.code, 0) << two.err;
  const ir::Graph a = ir::load_model(d / "one.h5"), b = ir::load_model(d / "two.h5"),
                  start = ir::load_model(model);
  double max_diff = 0, max_moved = 0;
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i)
    for (const auto& [key, t] : a.nodes[i].tensors) {
      const ir::Tensor* u = b.nodes[i].tensor(key);
      const ir::Tensor* s = start.nodes[i].tensor(key);
      ASSERT_TRUE(u && s) << a.nodes[i].name << "/" << key;
      ASSERT_EQ(t.data.size(), u->data.size());
      for (size_t k = 0; k < t.data.size(); ++k) {
        max_diff = std::max(max_diff, std::abs(static_cast<double>(t.data[k]) - u->data[k]));
        max_moved = std::max(max_moved, std::abs(static_cast<double>(t.data[k]) - s->data[k]));
      }
    }
  EXPECT_GT(max_moved, 1e-3);  // the fine-tuning did change the weights
  EXPECT_LT(max_diff, kTrainTolerance);
  std::printf("max |w_2 - w_1| = %.3g (weights moved up to %.3g)\n", max_diff, max_moved);
}

// A recipe with every stage that trains or sweeps: train, prune with fine-tuning, a sweep, KD-free
// fine-tuning, int8, .shr measured by the runtime.
const char* const kRecipe = R"(name: dist
model: {zoo: lenet5}
data: {dataset: fashion-mnist, val_limit: 500, test_limit: 500, calibration: 200}
seed: 4
threads: 1
stages:
  - train: {epochs: 1, limit: 1500}
  - prune: {method: magnitude, sparsity: 0.5, finetune: {epochs: 1, limit: 1500}}
  - sweep: {targets: [weights], methods: [fixed], bits: ['4', '8'], limit: 200}
  - finetune: {epochs: 2, limit: 1500, lr: 5e-4}
  - quantize: {scheme: fixed, bits: 8}
  - export: {formats: [shr]}
)";

/// Every file under dir, relative, sorted.
std::vector<std::string> tree(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

// `shrink run` over 2 processes: the same stages and report as one process up to the training's
// float rounding (kTrainTolerance on weights; here accuracies within 1%), rank 0 alone writes the
// folder (rank 1's scratch folder is gone), and a job SIGKILLed in a fine-tuning epoch resumes
// with 2 processes to exactly the numbers and .shr file of the job never stopped.
TEST(DistCliTest, RecipeRunsDataParallelAndResumes) {
  TempDir d;
  write(d / "recipe.yaml", kRecipe);
  fs::create_directory(d.path() / "tmp");
  ::setenv("TMPDIR", (d.path() / "tmp").c_str(), 1);  // where the ranks' scratch folders go
  CmdResult one = run_shrink("run recipe.yaml -o one --threads 1", d.path());
  ASSERT_EQ(one.code, 0) << one.err;
  CmdResult two = run_shrink("launch -n 2 -- run recipe.yaml -o two --threads 1", d.path());
  ASSERT_EQ(two.code, 0) << two.err;
  EXPECT_NE(two.out.find("[rank 0] [6/6] export"), std::string::npos) << two.out;
  EXPECT_EQ(two.out.find("[rank 1]"), std::string::npos) << two.out;  // rank 0 reports
  EXPECT_EQ(tree(d.path() / "one"), tree(d.path() / "two"));
  EXPECT_TRUE(fs::is_empty(d.path() / "tmp")) << tree(d.path() / "tmp").front();
  const nlohmann::json a = nlohmann::json::parse(slurp(d.path() / "one/report.json")),
                       b = nlohmann::json::parse(slurp(d.path() / "two/report.json"));
  ASSERT_EQ(a["stages"].size(), 6u);
  ASSERT_EQ(b["stages"].size(), 6u);
  for (size_t i = 0; i < 6; ++i)
    EXPECT_NEAR(a["stages"][i]["accuracy"].get<double>(), b["stages"][i]["accuracy"].get<double>(), 0.01)
        << a["stages"][i]["name"];
  // The sweep ran sharded: the same points, measured on models equal up to rounding.
  EXPECT_EQ(a["stages"][2]["extra"]["points"], b["stages"][2]["extra"]["points"]);
  EXPECT_GT(a["stages"][2]["extra"]["points"].get<int>(), 4);
  EXPECT_NEAR(a["final"]["runtime_accuracy"].get<double>(), b["final"]["runtime_accuracy"].get<double>(), 0.01);
  EXPECT_NEAR(a["final"]["bytes"].get<double>(), b["final"]["bytes"].get<double>(), 0.01 * a["final"]["bytes"].get<double>());

  // Killed (the launcher and both ranks) once fine-tuning has written its epoch-1 checkpoint.
  const fs::path ckpt = d.path() / "C" / "checkpoint";
  const pid_t pid = spawn_shrink({"launch", "-n", "2", "--", "run", "recipe.yaml", "-o", "C", "--threads", "1"},
                                 d.path(), /*own_group=*/true);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(kill_once_exists(pid, ckpt / "04-finetune.train-0.pt", true))
      << "no finetune checkpoint appeared: " << slurp(d.path() / ".spawn.stderr");
  EXPECT_TRUE(fs::exists(ckpt / "03-sweep.json"));
  EXPECT_FALSE(fs::exists(ckpt / "04-finetune.json"));
  fs::remove_all(d.path() / "tmp");  // a SIGKILLed rank leaves its scratch folder behind
  fs::create_directory(d.path() / "tmp");
  CmdResult c = run_shrink("launch -n 2 -- run recipe.yaml -o C --threads 1 --resume", d.path());
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_NE(c.out.find("[rank 0] [3/6] sweep: finished before"), std::string::npos) << c.out;
  const nlohmann::json r = nlohmann::json::parse(slurp(d.path() / "C/report.json"));
  EXPECT_EQ(r["final"]["accuracy"], b["final"]["accuracy"]);
  EXPECT_EQ(r["final"]["runtime_accuracy"], b["final"]["runtime_accuracy"]);
  EXPECT_EQ(r["final"]["bytes"], b["final"]["bytes"]);
  EXPECT_EQ(slurp(d.path() / "C/stages/06-export/model.shr"), slurp(d.path() / "two/stages/06-export/model.shr"));
  EXPECT_TRUE(fs::is_empty(d.path() / "tmp"));
}

TEST(DistCliTest, FailuresNameTheRank) {
  TempDir d;
  // Both ranks fail on bad input: the launch fails with the rank's exit code and names it.
  CmdResult bad = run_shrink("launch -n 2 -- sweep missing.h5 --data fashion-mnist -o out", d.path());
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_NE(bad.err.find("shrink: launch: rank "), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("exited with code 2; stopped the other ranks"), std::string::npos) << bad.err;
  // The rank the launch names (whichever failed first; the other may be stopped mid-line)
  // printed the one-line reason.
  const size_t at = bad.err.find("shrink: launch: rank ");
  ASSERT_NE(at, std::string::npos) << bad.err;
  const std::string rank = bad.err.substr(at + 21, 1);
  EXPECT_TRUE(rank == "0" || rank == "1") << bad.err;
  EXPECT_NE(bad.err.find("[rank " + rank + "] shrink: missing.h5: no such file"), std::string::npos) << bad.err;
  // A job of 3 with only 2 processes: the rendezvous gives up after --dist-timeout, one line.
  const std::string model = trained_model();
  CmdResult lonely = run_shrink("launch -n 2 -- sweep '" + model + "'" + kSweep + " --world-size 3 --dist-timeout 2 -o out",
                                d.path());
  EXPECT_EQ(lonely.code, 2) << lonely.err;
  EXPECT_NE(lonely.err.find("distributed rank "), std::string::npos) << lonely.err;
  EXPECT_NE(lonely.err.find("/3: rendezvous at 127.0.0.1:"), std::string::npos) << lonely.err;
  // Bad flags.
  expect_bad_input(run_shrink("launch -n 0 -- sweep x", d.path()), "-n 0");
  expect_bad_input(run_shrink("launch -n 2", d.path()), "missing the command after --");
  expect_bad_input(run_shrink("sweep '" + model + "' --data fashion-mnist --world-size 2 --rank 2 -o out", d.path()),
                   "--rank 2");
}

}  // namespace
}  // namespace shrink::clitest
