// Helpers every `shrink` subcommand shares: the command table, option parsing with the common
// options (--help, --threads, --seed), required options and input files, training flags.
//
//   int cmd_eval(int argc, char** argv) {
//     auto opts = cli::make_options("eval", "m.h5 --data DATASET [options]", "Accuracy ...");
//     opts.add_options()("json", "...");
//     auto r = cli::parse(opts, argc, argv, {"model"});
//     if (!r) return 0;                          // --help was printed
//     std::string model = cli::input_file(*r, "model", "eval");
//
// Errors are thrown as shrink::BadInput (exit 2, one line); main() prints them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "compress/dist.h"
#include "compress/ir/graph.h"
#include "compress/train.h"

namespace shrink::cli {

/// A subcommand: argv[0] is the command name, argv[1..] its arguments.
using CommandFn = int (*)(int argc, char** argv);
struct Command {
  const char* name;
  const char* summary;  ///< one line, for `shrink --help`
  CommandFn run;
};
/// Every subcommand of DESIGN.md, in the order `shrink --help` lists them.
const std::vector<Command>& commands();

/// Options with --help, --threads and --seed already added. `usage` follows "shrink <cmd> ".
cxxopts::Options make_options(const std::string& cmd, const std::string& usage, const std::string& description);
/// Parses (positional: names of options filled by bare arguments, in order); prints help and
/// returns nullopt on --help; applies --threads (default: all cores). Parse errors and extra
/// arguments become BadInput naming the command.
std::optional<cxxopts::ParseResult> parse(cxxopts::Options& opts, int argc, char** argv,
                                          const std::vector<std::string>& positional = {});

/// The value of an option that must be given; BadInput "<cmd>: missing --<name> (...)" if not.
std::string required(const cxxopts::ParseResult& r, const std::string& name, const std::string& cmd,
                     const std::string& what);
/// A required input file (positional or option): must exist and be a regular file.
std::string input_file(const cxxopts::ParseResult& r, const std::string& name, const std::string& cmd,
                       const std::string& what);
/// BadInput "<path>: no such file" / "is a folder" unless path is a readable regular file.
void require_file(const std::string& path, const std::string& what);
/// BadInput unless the folder that will hold `path` exists.
void require_output_folder(const std::string& path);

uint64_t seed(const cxxopts::ParseResult& r);

/// --data (required where the command needs it) and --data-dir.
void add_data_options(cxxopts::Options& opts);
/// --epochs, --batch-size, --optimizer, --lr, --momentum, --weight-decay, --schedule,
/// --train-limit with the given defaults (the recipe's train / finetune stages share them).
void add_train_options(cxxopts::Options& opts, const TrainOptions& defaults);
/// Reads and range-checks them (messages name the flag).
TrainOptions read_train_options(const cxxopts::ParseResult& r, TrainOptions defaults);

/// --world-size, --rank, --master ADDR:PORT, --dist-timeout (docs/cli.md, "Distributed runs").
void add_dist_options(cxxopts::Options& opts);
/// Those flags, else WORLD_SIZE / RANK / MASTER_ADDR / MASTER_PORT (dist::resolve).
dist::Options read_dist_options(const cxxopts::ParseResult& r);
using dist::use_data_parallel;  // data-parallel TrainOptions (compress/dist.h)

/// Loads a model file after checking it exists.
ir::Graph load_model_file(const std::string& path);
/// True if stderr is a terminal (progress bars).
bool stderr_is_tty();
/// "1.65 MiB"
std::string human_bytes(int64_t bytes);

// The subcommands (one file each).
int cmd_train(int argc, char** argv);
int cmd_finetune(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_infer(int argc, char** argv);
int cmd_import(int argc, char** argv);
int cmd_analyze(int argc, char** argv);
int cmd_export(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_sweep(int argc, char** argv);
int cmd_prune(int argc, char** argv);
int cmd_shunt(int argc, char** argv);
int cmd_launch(int argc, char** argv);

}  // namespace shrink::cli
