// Bad input on the command line: exit code 2 and one line on stderr naming what was wrong.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "compress/ir/npy.h"
#include "tests/cli/cli_util.h"

namespace shrink::clitest {
namespace {

TEST(CliBadInput, MissingModelFileNamesTheFile) {
  TempDir t;
  CmdResult r = run_shrink("eval no-such-model.h5 --data fashion-mnist", t.path());
  expect_bad_input(r, "no-such-model.h5");
}

TEST(CliBadInput, TruncatedModelFileNamesTheFile) {
  TempDir t;
  const std::string src = trained_model();
  const auto size = fs::file_size(src);
  const std::string cut = t / "cut.h5";
  fs::copy_file(src, cut);
  fs::resize_file(cut, size / 2);
  CmdResult r = run_shrink("eval cut.h5 --data fashion-mnist --limit 10", t.path());
  expect_bad_input(r, "cut.h5");
  ir::write_npy(t / "x.npy", ir::Tensor({2, 1, 28, 28}));
  r = run_shrink("infer cut.h5 --input x.npy -o y.npy", t.path());
  expect_bad_input(r, "cut.h5");
  EXPECT_FALSE(fs::exists(t / "y.npy"));
}

TEST(CliBadInput, WrongShapedNpyNamesFileAndShapes) {
  TempDir t;
  const std::string model = trained_model();
  ir::write_npy(t / "x.npy", ir::Tensor({3, 1, 28, 27}));
  CmdResult r = run_shrink("infer '" + model + "' --input x.npy -o y.npy", t.path());
  expect_bad_input(r, "x.npy");
  EXPECT_NE(r.err.find("[3, 1, 28, 27]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[1, 28, 28]"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(t / "y.npy"));
}

TEST(CliBadInput, Int64NpyIsRefused) {
  TempDir t;
  const std::string model = trained_model();
  ir::write_npy(t / "x.npy", ir::Shape{1, 28, 28}, std::vector<int64_t>(28 * 28, 1));
  CmdResult r = run_shrink("infer '" + model + "' --input x.npy -o y.npy", t.path());
  expect_bad_input(r, "x.npy");
}

TEST(CliBadInput, UnknownZooName) {
  TempDir t;
  CmdResult r = run_shrink("train --model lenet7 --data fashion-mnist --epochs 1 -o m.h5", t.path());
  expect_bad_input(r, "lenet7");
  EXPECT_FALSE(fs::exists(t / "m.h5"));
  r = run_shrink("analyze --model lenet7", t.path());
  expect_bad_input(r, "lenet7");
}

TEST(CliBadInput, UnknownSubcommand) {
  TempDir t;
  CmdResult r = run_shrink("compresss m.h5", t.path());
  expect_bad_input(r, "compresss");
}

TEST(CliBadInput, MissingRequiredOptionAndBadValues) {
  TempDir t;
  expect_bad_input(run_shrink("train --model lenet5 -o m.h5", t.path()), "--data");
  expect_bad_input(run_shrink("train --model lenet5 --data fashion-mnist", t.path()), "-o");
  expect_bad_input(run_shrink("train --model lenet5 --data fashion-mnist --epochs two -o m.h5", t.path()), "epochs");
  expect_bad_input(run_shrink("train --model lenet5 --data fashion-mnist --lr -1 -o m.h5", t.path()), "--lr");
  expect_bad_input(run_shrink("train --model lenet5 --data fashion-mnist --no-such-flag -o m.h5", t.path()),
                   "no-such-flag");
  expect_bad_input(run_shrink("eval a.h5 b.h5 --data fashion-mnist", t.path()), "b.h5");
}

TEST(CliBadInput, MissingInputNpyAndRecipe) {
  TempDir t;
  const std::string model = trained_model();
  expect_bad_input(run_shrink("infer '" + model + "' --input nothing.npy -o y.npy", t.path()), "nothing.npy");
  expect_bad_input(run_shrink("run no-recipe.yaml", t.path()), "no-recipe.yaml");
  expect_bad_input(run_shrink("import none.onnx -o m.h5", t.path()), "none.onnx");
}

TEST(CliBadInput, UnknownDataSetAndSplit) {
  TempDir t;
  const std::string model = trained_model();
  expect_bad_input(run_shrink("eval '" + model + "' --data fashion-mnist --split holdout", t.path()), "holdout");
  expect_bad_input(run_shrink("eval '" + model + "' --data idx:" + (t / "empty") + " --limit 5", t.path()), "empty");
}

}  // namespace
}  // namespace shrink::clitest
