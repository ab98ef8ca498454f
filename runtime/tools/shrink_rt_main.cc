// shrink-rt: the runtime's command line (run, eval, bench, inspect).
#include <cstdio>
#include <cstring>
#include <string>

#include "shrink_rt.h"

namespace {
const char* kUsage =
    "usage: shrink-rt <command> [options]\n"
    "\n"
    "commands:\n"
    "  run      m.shr --input x.npy -o y.npy   run a model on an input        (not implemented yet: issue 4)\n"
    "  eval     m.shr --data fashion-mnist     accuracy of a model            (not implemented yet: issue 4)\n"
    "  bench    m.shr [--iters N] [--json]     latency and per-layer profile  (not implemented yet: issue 4)\n"
    "  inspect  m.shr                          tensors, ops, sizes            (not implemented yet: issue 4)\n"
    "  version                                 print the runtime version\n";
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  if (cmd == "version" || cmd == "--version") {
    std::printf("shrink-rt %s\n", shrink_rt_version());
    return 0;
  }
  if (cmd == "run" || cmd == "eval" || cmd == "bench" || cmd == "inspect") {
    std::fprintf(stderr, "shrink-rt: '%s' is not implemented yet (issue 4: runtime and export)\n", cmd.c_str());
    return 3;
  }
  std::fprintf(stderr, "shrink-rt: unknown command '%s' (see shrink-rt --help)\n", cmd.c_str());
  return 2;
}
