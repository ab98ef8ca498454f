// Runs a writer in a forked child under a file-size limit (issue 9, "no partial files"): what a
// full disk looks like to write(2), EFBIG instead of ENOSPC, with SIGXFSZ ignored so that the
// write fails instead of killing the child. The child ends with exit(), not _exit(), so that the
// libraries' exit handlers run as at the end of `shrink` (HDF5's once crashed there).
//
//   EXPECT_EQ(test::write_under_file_limit(4096, [&] { save_model(g, p); }, {p}), "");
#pragma once
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "compress/ir/error.h"

namespace shrink::test {

/// "" when `write` threw a one-line BadInput containing every needle and the child then exited
/// normally; else what happened instead.
inline std::string write_under_file_limit(rlim_t limit, const std::function<void()>& write,
                                          const std::vector<std::string>& needles) {
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit rl{limit, limit};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(10);
    try {
      write();
    } catch (const BadInput& e) {
      const std::string msg = e.what();
      bool good = msg.find('\n') == std::string::npos;
      for (const std::string& n : needles) good = good && msg.find(n) != std::string::npos;
      std::exit(good ? 0 : 11);
    } catch (...) {
      std::exit(12);
    }
    std::exit(13);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return "waitpid failed";
  if (WIFSIGNALED(status)) return "the child died of signal " + std::to_string(WTERMSIG(status));
  switch (WEXITSTATUS(status)) {
    case 0: return "";
    case 10: return "setrlimit failed";
    case 11: return "the BadInput lacks a needle or has more than one line";
    case 12: return "another exception than BadInput";
    case 13: return "the write did not fail";
  }
  return "exit code " + std::to_string(WEXITSTATUS(status));
}

}  // namespace shrink::test
