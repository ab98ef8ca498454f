// Helpers of the CLI tests: run the built `shrink` as a user would, in a fresh temporary folder,
// and share one small trained model between tests (trained once, cached in the build folder).
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace shrink::clitest {

namespace fs = std::filesystem;

struct CmdResult {
  int code = -1;
  std::string out, err;
};

inline std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// Writes `text` into the file `path` (a recipe, a config) for a test.
inline void write(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

inline std::string shrink_bin() { return std::string(SHRINK_BIN_DIR) + "/shrink"; }

/// A fresh folder, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "shrink-cli-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

/// Runs `program <args>` (a shell fragment) in `cwd`; captures stdout, stderr and the exit code.
inline CmdResult run_program(const std::string& program, const std::string& args, const fs::path& cwd) {
  const fs::path out = cwd / ".stdout", err = cwd / ".stderr";
  std::string cmd = "cd '" + cwd.string() + "' && '" + program + "' " + args + " > '" + out.string() +
                    "' 2> '" + err.string() + "' < /dev/null";
  int st = std::system(cmd.c_str());
  CmdResult r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  r.out = slurp(out);
  r.err = slurp(err);
  fs::remove(out);
  fs::remove(err);
  return r;
}

/// Runs `shrink <args>` in `cwd`.
inline CmdResult run_shrink(const std::string& args, const fs::path& cwd) { return run_program(shrink_bin(), args, cwd); }

/// Starts `shrink <args...>` in `cwd` without waiting (stdout and stderr to .spawn.stdout and
/// .spawn.stderr there); returns its pid. With own_group it leads a new process group, so that
/// kill(-pid, SIGKILL) also stops the processes it starts (`shrink launch`'s ranks).
inline pid_t spawn_shrink(const std::vector<std::string>& args, const fs::path& cwd, bool own_group = false) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (own_group) ::setpgid(0, 0);
  if (::chdir(cwd.c_str()) != 0) ::_exit(127);
  FILE* out = std::freopen(".spawn.stdout", "w", stdout);
  FILE* err = std::freopen(".spawn.stderr", "w", stderr);
  if (!out || !err) ::_exit(127);
  std::vector<std::string> all{shrink_bin()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

/// Waits (up to 300 s) for `file` to appear, then SIGKILLs `pid` (its whole process group with
/// group) and reaps it. False if the process ended first or the file never appeared; a test
/// failure too if the process was not killed by the signal.
inline bool kill_once_exists(pid_t pid, const fs::path& file, bool group) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  bool seen = false, exited = false;
  while (!seen && !exited && std::chrono::steady_clock::now() < deadline) {
    seen = fs::exists(file);
    int st = 0;
    exited = !seen && ::waitpid(pid, &st, WNOHANG) == pid;
    if (!seen && !exited) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!exited) {
    ::kill(group ? -pid : pid, SIGKILL);
    int st = 0;
    ::waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << "the run ended before it was killed";
  }
  return seen;
}

/// Number of '\n'-terminated lines (a last line without '\n' counts too).
inline int line_count(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  if (!s.empty() && s.back() != '\n') ++n;
  return n;
}

/// A bad-input failure: exit 2, exactly one line on stderr starting "shrink: ", containing `needle`.
inline void expect_bad_input(const CmdResult& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << "stderr: " << r.err;
  EXPECT_EQ(line_count(r.err), 1) << "stderr: " << r.err;
  EXPECT_EQ(r.err.rfind("shrink: ", 0), 0u) << "stderr: " << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
}

/// A zoo model (LeNet-5 by default) trained for one epoch on 500 images (shrink train), made once
/// and reused by every test (and test process: the file is locked while it is made and rebuilt
/// when the shrink binary is newer).
inline std::string trained_model(const std::string& zoo = "lenet5") {
  const fs::path dir = fs::path(SHRINK_BINARY_DIR) / "tests" / "cli_fixture";
  fs::create_directories(dir);
  const fs::path model = dir / (zoo + "-500.h5");
  int fd = ::open((dir / "lock").c_str(), O_CREAT | O_RDWR, 0644);
  if (fd < 0) throw std::runtime_error("cannot open the fixture lock");
  ::flock(fd, LOCK_EX);
  std::error_code ec;
  bool fresh = fs::exists(model) && fs::last_write_time(model) >= fs::last_write_time(shrink_bin(), ec);
  if (!fresh) {
    CmdResult r = run_shrink("train --model " + zoo + " --data fashion-mnist --train-limit 500 --epochs 1 --seed 1 -o '" +
                                 model.string() + "'",
                             dir);
    if (r.code != 0) {
      ::flock(fd, LOCK_UN);
      ::close(fd);
      throw std::runtime_error("shrink train for the fixture failed: " + r.err);
    }
  }
  ::flock(fd, LOCK_UN);
  ::close(fd);
  return model.string();
}

}  // namespace shrink::clitest
