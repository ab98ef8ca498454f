// shrink prune and the recipe stage `prune` on the trained LeNet-5 fixture: a 90%-sparse int8
// export is at most 0.35x the dense int8 file; structured pruning makes the model, its analysis
// and its .shr smaller; bad input is one line and exit 2.
#include <fstream>

#include <gtest/gtest.h>

#include "compress/ir/analyzer.h"
#include "compress/ir/model_file.h"
#include "tests/cli/cli_util.h"

namespace shrink::clitest {
namespace {

TEST(CliPrune, SparseInt8ExportIsAtMost035OfDense) {
  TempDir t;
  const std::string m = trained_model();
  CmdResult r = run_shrink("prune '" + m + "' --data fashion-mnist --method magnitude --sparsity 0.9 --limit 200 -o p.h5",
                           t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("weight sparsity 0.9000"), std::string::npos) << r.out;
  for (const std::string name : {"p", "d"}) {
    const std::string src = name == "p" ? "p.h5" : "'" + m + "'";
    r = run_shrink("quantize " + src + " --data fashion-mnist --bits 8 --calibration 200 --limit 200 -o " + name + "q.h5",
                   t.path());
    ASSERT_EQ(r.code, 0) << r.err;
    r = run_shrink("export " + name + "q.h5 --format shr -o " + name + ".shr", t.path());
    ASSERT_EQ(r.code, 0) << r.err;
  }
  const double ratio = static_cast<double>(fs::file_size(t / "p.shr")) / static_cast<double>(fs::file_size(t / "d.shr"));
  std::cout << "90% sparse int8 .shr " << fs::file_size(t / "p.shr") << " bytes, dense int8 " << fs::file_size(t / "d.shr")
            << " bytes, ratio " << ratio << "\n";
  EXPECT_LE(ratio, 0.35);
  // The pruned weights stay zero through quantization.
  const ir::Analysis a = ir::analyze(ir::load_model(t / "pq.h5"), {});
  EXPECT_LE(a.nonzero_params, a.params / 10 + 600) << "biases are not pruned";
}

TEST(CliPrune, StructuredL1RemovesChannels) {
  TempDir t;
  CmdResult r = run_shrink("prune '" + trained_model() + "' --data fashion-mnist --method l1 --ratio 0.5 --limit 200 -o s.h5",
                           t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const ir::Graph g = ir::load_model(t / "s.h5");
  EXPECT_EQ(g.at("conv1").out_channels, 10);
  EXPECT_EQ(g.at("conv2").in_channels, 10);
  EXPECT_EQ(g.at("conv2").out_channels, 25);
  EXPECT_EQ(g.at("fc1").in_channels, 25 * 16);
  EXPECT_EQ(g.at("fc2").out_channels, 10);
  r = run_shrink("analyze s.h5 --json", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"macs\": 646500"), std::string::npos) << "conv1 144,000 + conv2 400,000 + fc1 100,000 + fc2 2,500";
  r = run_shrink("export s.h5 --format shr -o s.shr", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_shrink("export '" + trained_model() + "' --format shr -o d.shr", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_LT(fs::file_size(t / "s.shr"), fs::file_size(t / "d.shr") * 3 / 10);
}

TEST(CliPrune, RecipeStage) {
  TempDir t;
  write(t / "r.yaml", "name: p\nmodel: {file: '" + trained_model() +
                          "'}\ndata: {dataset: fashion-mnist, val_limit: 200, test_limit: 200, calibration: 200}\n"
                          "stages:\n  - prune: {method: apoz, ratio: 0.3, finetune: {epochs: 1, limit: 300}}\n"
                          "  - prune: {method: magnitude, sparsity: 0.5}\n");
  CmdResult r = run_shrink("run r.yaml -o out", t.path());
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  const ir::Graph g = ir::load_model(t / "out/stages/02-prune/model.h5");
  EXPECT_EQ(g.at("conv1").out_channels, 14);
  const ir::Analysis a = ir::analyze(g, {});
  EXPECT_LT(a.nonzero_params, a.params * 6 / 10);
  write(t / "bad.yaml", "name: p\nmodel: {zoo: lenet5}\nstages:\n  - prune: {method: l1, ratio: 0.3, shedule: agp}\n");
  expect_bad_input(run_shrink("run bad.yaml --dry-run", t.path()), "bad.yaml:4:37: unknown key 'shedule'");
}

TEST(CliPrune, BadInputIsOneLineExit2) {
  TempDir t;
  const std::string m = "'" + trained_model() + "' --data fashion-mnist";
  write(t / "fc2.yaml", "layers: {fc2: 0.3}\n");
  write(t / "nope.yaml", "layers: {conv9: 0.3}\n");
  const std::pair<std::string, std::string> cases[] = {
      {"prune " + m + " --method l1 --ratio 1.0 -o o.h5", "--ratio must be in [0, 1)"},
      {"prune " + m + " --method l1 --ratio -0.1 -o o.h5", "--ratio must be in [0, 1)"},
      {"prune " + m + " --method magnitude --sparsity 1 -o o.h5", "--sparsity must be in [0, 1)"},
      {"prune " + m + " --method biggest --ratio 0.3 -o o.h5", "unknown method 'biggest'"},
      {"prune " + m + " --method l1 -o o.h5", "--ratio is needed"},
      {"prune " + m + " --method l1 --config fc2.yaml -o o.h5", "'fc2' cannot be pruned: it reaches the graph output"},
      {"prune " + m + " --method l1 --config nope.yaml -o o.h5", "no channel group named 'conv9'"},
      {"prune " + m + " --method magnitude --config nope.yaml -o o.h5", "no layer named 'conv9'"},
      {"prune " + m + " --method l1 --ratio 0.3 --schedule agp -o o.h5", "agp applies to method magnitude only"},
  };
  for (const auto& [args, needle] : cases) {
    expect_bad_input(run_shrink(args, t.path()), needle);
    EXPECT_FALSE(fs::exists(t / "o.h5")) << args;
  }
}

}  // namespace
}  // namespace shrink::clitest
