// The disk fills during `shrink export` (issue 9, no partial files): the file-size limit
// (`ulimit -f`, with SIGXFSZ ignored as a full disk would give ENOSPC, not a signal) is hit while
// each format is written. Every case exits 2 with one line naming the output, the files of the
// previous export are intact byte for byte, and no temporary is left in the folder.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "tests/cli/cli_util.h"

namespace shrink::clitest {
namespace {

// name -> size and FNV-1a of the bytes (printable when a test fails).
std::map<std::string, std::string> folder_contents(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string bytes = slurp(e.path());
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
    files[e.path().filename().string()] = std::to_string(bytes.size()) + " B, fnv " + std::to_string(h);
  }
  return files;
}

TEST(CliExportDiskFull, EveryFormatKeepsThePreviousFiles) {
  const std::string model = trained_model();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"shr", "m.shr"}, {"c", "m.c"}, {"hdf5", "m.h5"}, {"onnx", "m.onnx"}};
  for (const auto& [format, out] : cases) {
    SCOPED_TRACE(format);
    TempDir t;
    const fs::path dir = t.path() / "out";
    fs::create_directories(dir);
    const std::string cmd = "export '" + model + "' --format " + format + " -o out/" + out;
    ASSERT_EQ(run_shrink(cmd, t.path()).code, 0);
    const auto before = folder_contents(dir);
    size_t largest = 0;  // the limit is per file (--format c writes m.c and m.h)
    for (const auto& e : fs::directory_iterator(dir)) largest = std::max<size_t>(largest, fs::file_size(e.path()));
    ASSERT_GT(largest, 100000u);
    // dash's `ulimit -f` counts 512-byte blocks; stderr (a file here) needs a few of them.
    for (size_t blocks : {size_t{4}, largest / 512 / 4, largest / 512 / 2, largest / 512 - 2}) {
      SCOPED_TRACE("ulimit -f " + std::to_string(blocks));
      CmdResult r = run_program("/bin/sh", "-c \"trap '' XFSZ; ulimit -f " + std::to_string(blocks) + "; exec '" +
                                               shrink_bin() + "' " + cmd + "\"", t.path());
      expect_bad_input(r, "out/" + out.substr(0, out.find('.')));
      EXPECT_EQ(folder_contents(dir), before) << "the previous export changed or a temporary remains";
    }
  }
}

}  // namespace
}  // namespace shrink::clitest
