// shrink: the command line. Dispatches to one subcommand per file; every error ends here as
// one line on stderr and an exit code (0 ok, 2 bad input, 1 internal error, 3 not implemented).
#include <cstring>
#include <iostream>
#include <string>

#include <cxxopts.hpp>
#include <torch/torch.h>

#include "compress/cli/common.h"
#include "compress/ir/error.h"
#include "prune/register.h"
#include "quantize/register.h"
#include "shunt/register.h"

namespace {

/// Messages are printed on one line: newlines become "; ".
std::string one_line(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '\n') {
      if (!o.empty() && o.back() != ' ') o += "; ";
    } else if (c != '\r') {
      o += c;
    }
  }
  while (!o.empty() && (o.back() == ' ' || o.back() == ';')) o.pop_back();
  return o;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

void print_usage(std::ostream& os) {
  os << "shrink " << SHRINK_VERSION << ": compress neural networks for embedded deployment\n\n"
     << "usage: shrink <command> [options]     (shrink <command> --help for its options)\n\ncommands:\n";
  for (const auto& c : shrink::cli::commands()) {
    std::string name = c.name;
    name.resize(10, ' ');
    os << "  " << name << c.summary << "\n";
  }
  os << "\nevery command takes --threads N (default: all cores), --seed S and --help.\n"
     << "exit codes: 0 success, 2 bad input, 1 internal error, 3 not implemented yet.\n";
}

int dispatch(int argc, char** argv) {
  if (argc < 2) {
    print_usage(std::cerr);
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    print_usage(std::cout);
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::cout << "shrink " << SHRINK_VERSION << "\n";
    return 0;
  }
  for (const auto& c : shrink::cli::commands())
    if (cmd == c.name) return c.run(argc - 1, argv + 1);
  std::string known;
  for (const auto& c : shrink::cli::commands()) known += (known.empty() ? "" : ", ") + std::string(c.name);
  throw shrink::BadInput("unknown command '", cmd, "' (commands: ", known, "; see shrink --help)");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    shrink::quant::register_all();  // executor setup "quant" and the recipe stage `quantize`
    shrink::prune::register_all();  // the recipe stage `prune`
    shrink::shunt::register_all();  // the recipe stage `shunt`, the distillation losses
    return dispatch(argc, argv);
  } catch (const shrink::Error& e) {
    std::cerr << "shrink: " << one_line(e.what()) << std::endl;
    return e.exit_code();
  } catch (const cxxopts::exceptions::exception& e) {
    std::cerr << "shrink: " << one_line(e.what()) << std::endl;
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << "shrink: internal error: " << first_line(e.what_without_backtrace()) << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "shrink: internal error: " << one_line(e.what()) << std::endl;
    return 1;
  }
}
