// shrink-rt writes every output (-o y.npy, each --dump-layers file) through a temporary in the
// same folder, fsynced and renamed (runtime/tools/npy.h write_file_atomically). Here shrink-rt runs
// in a child with a small RLIMIT_FSIZE (a full disk as write(2) sees it) and the default SIGXFSZ
// disposition (shrink-rt ignores it itself): it must exit 2 with one line, leave the previous
// output byte for byte, and leave no temporary in the folder (issue 9, "no partial files").
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/tools/npy.h"
#include "tests/cli/cli_util.h"
#include "tests/runtime/tiny_shr.h"

namespace shrink::test {
namespace {

namespace fs = std::filesystem;

struct ChildResult {
  int code = -1;    ///< exit code, or -1 when killed
  int signal = 0;   ///< the signal that killed it
  std::string err;  ///< its stderr
};

/// Runs shrink-rt with `args` in `cwd` under RLIMIT_FSIZE = `limit` bytes (fork + execv); its
/// stderr comes back through a pipe, which the limit does not apply to.
ChildResult run_limited(const std::vector<std::string>& args, const fs::path& cwd, rlim_t limit) {
  const std::string rt = std::string(SHRINK_BIN_DIR) + "/shrink-rt";
  int fds[2];
  ChildResult r;
  if (::pipe(fds) != 0) return r;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const int null_fd = ::open("/dev/null", O_WRONLY);
    if (null_fd < 0 || ::dup2(null_fd, 1) < 0 || ::dup2(fds[1], 2) < 0 || ::chdir(cwd.c_str()) != 0) ::_exit(120);
    const rlimit rl{limit, limit};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(121);
    std::vector<char*> argv{const_cast<char*>(rt.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(rt.c_str(), argv.data());
    ::_exit(122);
  }
  ::close(fds[1]);
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) r.err.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return r;
  if (WIFEXITED(status)) r.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

/// Names in `dir` (recursively, relative) that look like temporaries.
std::vector<std::string> temporaries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos)
      out.push_back(fs::relative(e.path(), dir).string());
  return out;
}

class ShrinkRtAtomicOutput : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::vector<uint8_t> m = TinyShr().build();
    std::FILE* f = std::fopen((d / "m.shr").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(m.data(), 1, m.size(), f);
    std::fclose(f);
    // 200 samples: the float32 output (200 x 3) is 2,528 bytes, each dump a few KB.
    std::vector<float> x(200 * 16);
    for (size_t i = 0; i < x.size(); ++i) x[i] = 0.01f * static_cast<float>(i % 97) - 0.4f;
    std::string err;
    ASSERT_TRUE(rttool::write_npy(d / "x.npy", "<f4", {200, 1, 4, 4}, x.data(), x.size() * 4, err)) << err;
  }
  clitest::TempDir d;
};

TEST_F(ShrinkRtAtomicOutput, FullDiskKeepsThePreviousOutputAndLeavesNoTemporary) {
  const std::string previous(5000, 'P');  // the previous y.npy (not even an .npy: bytes are compared)
  for (rlim_t limit : {rlim_t{0}, rlim_t{64}, rlim_t{1000}, rlim_t{2500}}) {
    SCOPED_TRACE("RLIMIT_FSIZE " + std::to_string(limit));
    std::string err;
    ASSERT_TRUE(rttool::write_file_atomically(d / "y.npy", {{previous.data(), previous.size()}}, err)) << err;
    const ChildResult r = run_limited({"run", "m.shr", "--input", "x.npy", "-o", "y.npy"}, d.path(), limit);
    EXPECT_EQ(r.signal, 0) << "killed by signal " << r.signal;
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(clitest::line_count(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("cannot write y.npy"), std::string::npos) << r.err;
    EXPECT_EQ(clitest::slurp(d / "y.npy"), previous);
    EXPECT_EQ(temporaries(d.path()), std::vector<std::string>{});
  }
  // Without the limit the same run replaces it with the real output.
  const ChildResult ok = run_limited({"run", "m.shr", "--input", "x.npy", "-o", "y.npy"}, d.path(), RLIM_INFINITY);
  ASSERT_EQ(ok.code, 0) << ok.err;
  rttool::NpyArray y;
  std::string err;
  ASSERT_TRUE(rttool::read_npy(d / "y.npy", y, err)) << err;
  EXPECT_EQ(y.shape, (std::vector<int64_t>{200, 3}));
  EXPECT_EQ(temporaries(d.path()), std::vector<std::string>{});
}

TEST_F(ShrinkRtAtomicOutput, FullDiskDuringLayerDumpsLeavesOnlyCompleteFiles) {
  // The output (2.5 KB) fits under the limit, the layer dumps (200 samples of 16 values and
  // more) do not: each dump file is either complete or absent, and no temporary remains.
  const ChildResult r = run_limited({"run", "m.shr", "--input", "x.npy", "-o", "y.npy", "--dump-layers", "dump"},
                                    d.path(), 4096);
  EXPECT_EQ(r.signal, 0) << "killed by signal " << r.signal;
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(clitest::line_count(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("cannot write dump/"), std::string::npos) << r.err;
  EXPECT_EQ(temporaries(d.path()), std::vector<std::string>{});
  for (const auto& e : fs::directory_iterator(d / "dump")) {
    rttool::NpyArray a;
    std::string err;
    EXPECT_TRUE(rttool::read_npy(e.path().string(), a, err)) << err;  // complete, never cut
  }
  // Without the limit every dump is written.
  const ChildResult ok = run_limited({"run", "m.shr", "--input", "x.npy", "-o", "y.npy", "--dump-layers", "dump"},
                                     d.path(), RLIM_INFINITY);
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_GE(std::distance(fs::directory_iterator(d / "dump"), fs::directory_iterator{}), 3);
  EXPECT_EQ(temporaries(d.path()), std::vector<std::string>{});
}

}  // namespace
}  // namespace shrink::test
