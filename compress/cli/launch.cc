// shrink launch -n N [--port P] -- <command ...>: N local processes of one shrink command, as
// ranks 0..N-1 of a distributed job (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR=127.0.0.1 and a
// free MASTER_PORT in their environment). Every line they print is forwarded with a "[rank R] "
// prefix (stdout to stdout, stderr to stderr). The first rank that fails (nonzero exit or a
// signal) stops the others (SIGTERM, then SIGKILL after 5 s) and the launch fails naming it,
// with that rank's exit code (1 for a signal). The children die with the launcher (PDEATHSIG).
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "compress/cli/common.h"
#include "compress/ir/error.h"

namespace shrink::cli {
namespace {

/// A loopback TCP port free right now (the kernel's choice for port 0).
int pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw InternalError("launch: cannot open a socket: ", std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  if (!ok) throw InternalError("launch: cannot find a free port: ", std::strerror(errno));
  return ntohs(a.sin_port);
}

struct Child {
  pid_t pid = -1;
  int out = -1, err = -1;           ///< read ends of its stdout / stderr pipes (-1: closed)
  std::string out_buf, err_buf;     ///< an unfinished last line
  bool running = true;
};

/// Forwards the complete lines of `buf` (all of it when `flush`) with the rank prefix.
void forward_lines(std::string& buf, int rank, FILE* to, bool flush) {
  size_t start = 0, nl;
  while ((nl = buf.find('\n', start)) != std::string::npos) {
    std::fprintf(to, "[rank %d] %.*s\n", rank, static_cast<int>(nl - start), buf.data() + start);
    start = nl + 1;
  }
  buf.erase(0, start);
  if (flush && !buf.empty()) {
    std::fprintf(to, "[rank %d] %s\n", rank, buf.c_str());
    buf.clear();
  }
  std::fflush(to);
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
  return "stopped";
}

}  // namespace

int cmd_launch(int argc, char** argv) {
  // Everything after "--" is the command; cxxopts sees only what comes before.
  int split = 1;
  while (split < argc && std::string(argv[split]) != "--") ++split;
  std::vector<std::string> command(argv + std::min(split + 1, argc), argv + argc);
  if (!command.empty() && command[0] == "shrink") command.erase(command.begin());

  auto opts = make_options("launch", "-n N [--port P] -- <command> [options]",
                           "Start N local processes of one shrink command (sweep, train, finetune) as a "
                           "distributed job over loopback (docs/cli.md, \"Distributed runs\"). Each gets "
                           "WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT and --threads cores/N unless the command "
                           "sets --threads; output lines are prefixed with [rank R]. If one process fails, "
                           "the others are stopped and the launch fails naming it.");
  opts.add_options()("n,nproc", "processes to start", cxxopts::value<int>())(
      "port", "rendezvous port (default: a free one)", cxxopts::value<int>());
  auto r = parse(opts, split, argv);
  if (!r) return 0;
  if (!r->count("nproc")) throw BadInput("launch: missing -n N (the number of processes)");
  const int n = (*r)["nproc"].as<int>();
  if (n < 1 || n > 256) throw BadInput("launch: -n ", n, ": expected 1..256 processes");
  if (split >= argc || command.empty())
    throw BadInput("launch: missing the command after -- (e.g. shrink launch -n 2 -- sweep m.h5 --data ...)");
  if (command[0] == "launch") throw BadInput("launch: the command cannot be launch itself");
  const int port = r->count("port") ? (*r)["port"].as<int>() : pick_free_port();
  if (port < 1 || port > 65535) throw BadInput("launch: --port ", port, ": expected 1..65535");
  bool has_threads = false;
  for (const auto& a : command) has_threads |= a == "--threads" || a.rfind("--threads=", 0) == 0;
  if (!has_threads) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    command.push_back("--threads");
    command.push_back(std::to_string(std::max(1, cores / n)));
  }

  std::vector<Child> kids(static_cast<size_t>(n));
  const pid_t launcher = ::getpid();
  std::fflush(stdout);
  std::fflush(stderr);
  for (int rank = 0; rank < n; ++rank) {
    int po[2], pe[2];
    if (::pipe(po) != 0 || ::pipe(pe) != 0) throw InternalError("launch: pipe: ", std::strerror(errno));
    const pid_t pid = ::fork();
    if (pid < 0) throw InternalError("launch: fork: ", std::strerror(errno));
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the launcher
      if (::getppid() != launcher) _exit(1);
      ::dup2(po[1], STDOUT_FILENO);
      ::dup2(pe[1], STDERR_FILENO);
      ::close(po[0]), ::close(po[1]), ::close(pe[0]), ::close(pe[1]);
      ::setenv("WORLD_SIZE", std::to_string(n).c_str(), 1);
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      std::vector<char*> args = {const_cast<char*>("shrink")};
      for (auto& a : command) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv("/proc/self/exe", args.data());
      std::fprintf(stderr, "shrink: launch: cannot start the command: %s\n", std::strerror(errno));
      _exit(1);
    }
    ::close(po[1]);
    ::close(pe[1]);
    kids[static_cast<size_t>(rank)] = {pid, po[0], pe[0], "", "", true};
  }

  int failed_rank = -1, failed_code = 0;
  std::string failure;
  std::chrono::steady_clock::time_point stop_at{};
  bool killed = false;
  auto any_open = [&] {
    for (const auto& k : kids)
      if (k.running || k.out >= 0 || k.err >= 0) return true;
    return false;
  };
  while (any_open()) {
    std::vector<pollfd> fds;
    std::vector<std::pair<int, bool>> who;  // (rank, is stderr)
    for (int i = 0; i < n; ++i) {
      const Child& k = kids[static_cast<size_t>(i)];
      if (k.out >= 0) fds.push_back({k.out, POLLIN, 0}), who.push_back({i, false});
      if (k.err >= 0) fds.push_back({k.err, POLLIN, 0}), who.push_back({i, true});
    }
    if (!fds.empty()) ::poll(fds.data(), fds.size(), 100);
    else std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (size_t f = 0; f < fds.size(); ++f) {
      if (!(fds[f].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Child& k = kids[static_cast<size_t>(who[f].first)];
      char buf[4096];
      const ssize_t got = ::read(fds[f].fd, buf, sizeof buf);
      std::string& pending = who[f].second ? k.err_buf : k.out_buf;
      FILE* to = who[f].second ? stderr : stdout;
      if (got > 0) {
        pending.append(buf, static_cast<size_t>(got));
        forward_lines(pending, who[f].first, to, false);
      } else {
        forward_lines(pending, who[f].first, to, true);
        ::close(fds[f].fd);
        (who[f].second ? k.err : k.out) = -1;
      }
    }
    for (int i = 0; i < n; ++i) {
      Child& k = kids[static_cast<size_t>(i)];
      int status = 0;
      if (!k.running || ::waitpid(k.pid, &status, WNOHANG) != k.pid) continue;
      k.running = false;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && failed_rank < 0) {
        failed_rank = i;
        failed_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
        failure = describe(status);
        for (auto& other : kids)
          if (other.running) ::kill(other.pid, SIGTERM);
        stop_at = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      }
    }
    if (failed_rank >= 0 && !killed && std::chrono::steady_clock::now() > stop_at) {
      for (auto& other : kids)
        if (other.running) ::kill(other.pid, SIGKILL);
      killed = true;
    }
  }
  if (failed_rank >= 0)
    throw Error(failed_code == 3 ? ErrorKind::NotImplemented : failed_code == 2 ? ErrorKind::BadInput : ErrorKind::Internal,
                detail::concat("launch: rank ", failed_rank, " of ", n, " ", failure, "; stopped the other ranks"));
  return 0;
}

}  // namespace shrink::cli
