// shrink --help, --version, every command's --help, and the commands not implemented yet.
#include <gtest/gtest.h>

#include "tests/cli/cli_util.h"

namespace shrink::clitest {
namespace {

const char* const kCommands[] = {"train", "finetune", "eval",  "infer", "import", "analyze",
                                 "quantize", "sweep",  "prune", "shunt", "run",    "export"};

TEST(CliHelp, ListsEverySubcommandWithADescription) {
  TempDir t;
  CmdResult r = run_shrink("--help", t.path());
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* c : kCommands) {
    std::string line = std::string("\n  ") + c + " ";
    auto at = r.out.find(line);
    ASSERT_NE(at, std::string::npos) << c << " missing in:\n" << r.out;
    auto end = r.out.find('\n', at + 1);
    EXPECT_GT(end - at, line.size() + 10) << "no description for " << c;
  }
}

TEST(CliHelp, EveryCommandHasHelp) {
  TempDir t;
  for (const char* c : kCommands) {
    CmdResult r = run_shrink(std::string(c) + " --help", t.path());
    EXPECT_EQ(r.code, 0) << c << ": " << r.err;
    EXPECT_NE(r.out.find(std::string("shrink ") + c), std::string::npos) << r.out;
  }
  CmdResult r = run_shrink("train --help", t.path());
  for (const char* flag : {"--model", "--data", "--epochs", "--train-limit", "--seed", "--threads", "--lr"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

TEST(CliHelp, VersionAndNoArguments) {
  TempDir t;
  CmdResult r = run_shrink("--version", t.path());
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, std::string("shrink ") + SHRINK_VERSION + "\n");
  r = run_shrink("", t.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("usage"), std::string::npos);
}

TEST(CliHelp, DocsNameEveryCommand) {
  std::string doc = slurp(fs::path(SHRINK_SOURCE_DIR) / "docs" / "cli.md");
  ASSERT_FALSE(doc.empty());
  for (const char* c : kCommands) EXPECT_NE(doc.find(std::string("shrink ") + c), std::string::npos) << c;
  for (const char* flag : {"--threads", "--seed", "--json", "--split", "--limit", "--set", "--dry-run", "--teacher",
                           "--temperature", "--alpha", "--bits", "--sram-kib", "--pj-per-mac", "--pj-per-dram-bit",
                           "--format", "--input", "--train-limit", "--batch-size", "--data-dir", "--list-stages"})
    EXPECT_NE(doc.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace shrink::clitest
