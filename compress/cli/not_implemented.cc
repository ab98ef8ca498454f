// Commands of DESIGN.md whose issue is not done yet: --help describes them, running them exits 3.
#include <iostream>

#include "compress/cli/common.h"
#include "compress/ir/error.h"

namespace shrink::cli {
namespace {

int not_implemented(int argc, char** argv, const char* usage, const char* what, int issue) {
  std::string cmd = argv[0];
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << what << "\nUsage:\n  shrink " << cmd << " " << usage << "\n\nnot implemented yet (issue " << issue
                << "): running it exits with code 3.\n";
      return 0;
    }
  }
  throw NotImplemented(cmd, ": not implemented yet (issue ", issue, ")");
}

}  // namespace

int cmd_shunt(int argc, char** argv) {
  return not_implemented(argc, argv, "m.h5 --data DATASET (--kq-only | --blocks I-J --arch NAME | --auto) -o s.h5",
                         "Knowledge-Quotient-guided shunt connections.", 6);
}

}  // namespace shrink::cli
