#include "compress/cli/common.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "compress/ir/error.h"
#include "compress/ir/model_file.h"
#include "compress/recipe.h"

namespace fs = std::filesystem;

namespace shrink::cli {
namespace {
constexpr const char* kPositionalGroup = "positional";

std::string flag_of(const std::string& key) {
  if (key == "limit") return "--train-limit";
  std::string f = "--" + key;
  for (char& c : f)
    if (c == '_') c = '-';
  return f;
}
}  // namespace

int cmd_compare(int argc, char** argv);  // compare.cc (declared here: common.h is in every TU)

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"train", "train a zoo model on a data set and save it (.h5)", cmd_train},
      {"finetune", "fine-tune a model, optionally distilling from a teacher", cmd_finetune},
      {"eval", "accuracy and loss of a model on a split (--json for programs)", cmd_eval},
      {"infer", "run a model on a .npy input and write the outputs as .npy", cmd_infer},
      {"compare", "the first tensor where two --dump-layers folders differ", cmd_compare},
      {"import", "convert an ONNX model to a shrink model (.h5)", cmd_import},
      {"analyze", "per-layer parameters, MACs, memory, DRAM traffic and energy", cmd_analyze},
      {"quantize", "fixed-point or k-means quantization (calibrated on val)", cmd_quantize},
      {"sweep", "quantization or pruning sensitivity sweep, mixed-precision exploration", cmd_sweep},
      {"prune", "unstructured (magnitude, AGP) and structured (channel) pruning with channel removal", cmd_prune},
      {"shunt", "Knowledge-Quotient ranking of residual blocks; replace a run of blocks by a shunt, trained by distillation", cmd_shunt},
      {"run", "run a YAML recipe: stages, models, report.json and report.html", cmd_run},
      {"export", "write a model as onnx, shr, c or hdf5", cmd_export},
      {"launch", "start N local processes of a sweep / train / finetune command (distributed run)", cmd_launch},
  };
  return table;
}

cxxopts::Options make_options(const std::string& cmd, const std::string& usage, const std::string& description) {
  cxxopts::Options o("shrink " + cmd, description);
  o.custom_help(usage);
  o.positional_help("");
  o.set_width(100);
  o.add_options()("h,help", "show this help and exit")(
      "threads", "intra-op threads (0 = all cores)", cxxopts::value<int>()->default_value("0"))(
      "seed", "random seed (initialisation, shuffling)", cxxopts::value<uint64_t>()->default_value("1"));
  return o;
}

std::optional<cxxopts::ParseResult> parse(cxxopts::Options& opts, int argc, char** argv,
                                          const std::vector<std::string>& positional) {
  const std::string cmd = argv[0];
  for (const auto& p : positional) opts.add_option(kPositionalGroup, {p, "input", cxxopts::value<std::string>()});
  opts.parse_positional(positional);
  cxxopts::ParseResult r;
  try {
    r = opts.parse(argc, argv);
  } catch (const cxxopts::exceptions::incorrect_argument_type& e) {
    // cxxopts names the value, not the option: find the option the value was given to.
    std::string msg = e.what();
    auto a = msg.find("\xE2\x80\x98"), b = msg.find("\xE2\x80\x99");
    std::string value = a != std::string::npos && b != std::string::npos ? msg.substr(a + 3, b - a - 3) : "";
    for (int i = 1; i < argc && !value.empty(); ++i) {
      std::string arg = argv[i];
      std::string flag = arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos ? arg.substr(0, arg.find('=')) : "";
      bool hit = !flag.empty() ? arg.substr(flag.size() + 1) == value
                               : (i + 1 < argc && argv[i + 1] == value && arg.rfind("-", 0) == 0);
      if (hit) {
        if (flag.empty()) flag = arg;
        throw BadInput(cmd, ": ", flag, ": '", value, "' is not a valid value (see shrink ", cmd, " --help)");
      }
    }
    throw BadInput(cmd, ": ", msg, " (see shrink ", cmd, " --help)");
  } catch (const cxxopts::exceptions::exception& e) {
    throw BadInput(cmd, ": ", e.what(), " (see shrink ", cmd, " --help)");
  }
  if (r.count("help")) {
    std::vector<std::string> groups;
    for (const auto& g : opts.groups())
      if (g != kPositionalGroup) groups.push_back(g);
    std::cout << opts.help(groups);
    return std::nullopt;
  }
  if (!r.unmatched().empty())
    throw BadInput(cmd, ": unexpected argument '", r.unmatched()[0], "' (see shrink ", cmd, " --help)");
  int threads = r["threads"].as<int>();
  if (threads < 0) throw BadInput(cmd, ": --threads must be >= 0 (0 = all cores), got ", threads);
  set_threads(threads);
  return r;
}

std::string required(const cxxopts::ParseResult& r, const std::string& name, const std::string& cmd,
                     const std::string& what) {
  if (!r.count(name)) throw BadInput(cmd, ": missing ", what, " (see shrink ", cmd, " --help)");
  std::string v = r[name].as<std::string>();
  if (v.empty()) throw BadInput(cmd, ": empty ", what);
  return v;
}

void require_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) throw BadInput(path, ": no such file (expected ", what, ")");
  if (fs::is_directory(st)) throw BadInput(path, ": is a folder, expected ", what);
}

std::string input_file(const cxxopts::ParseResult& r, const std::string& name, const std::string& cmd,
                       const std::string& what) {
  std::string p = required(r, name, cmd, what);
  require_file(p, what);
  return p;
}

void require_output_folder(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  if (!fs::is_directory(parent, ec)) throw BadInput(path, ": the folder ", parent.string(), " does not exist");
}

uint64_t seed(const cxxopts::ParseResult& r) { return r["seed"].as<uint64_t>(); }

void add_data_options(cxxopts::Options& opts) {
  opts.add_options()("data", "data set: fashion-mnist | idx:DIR | hdf5:FILE", cxxopts::value<std::string>())(
      "data-dir", "folder of fashion-mnist (default /usr/share/datasets/fashion-mnist)",
      cxxopts::value<std::string>()->default_value(""));
}

void add_train_options(cxxopts::Options& opts, const TrainOptions& d) {
  auto num = [](double v) {
    std::ostringstream os;
    os << v;
    return os.str();
  };
  opts.add_options("training")("epochs", "passes over the training data",
                               cxxopts::value<int>()->default_value(std::to_string(d.epochs)))(
      "batch-size", "samples per optimizer step", cxxopts::value<int64_t>()->default_value(std::to_string(d.batch_size)))(
      "optimizer", "adam | sgd", cxxopts::value<std::string>()->default_value(d.optimizer))(
      "lr", "initial learning rate", cxxopts::value<double>()->default_value(num(d.lr)))(
      "momentum", "sgd momentum", cxxopts::value<double>()->default_value(num(d.momentum)))(
      "weight-decay", "L2 weight decay", cxxopts::value<double>()->default_value(num(d.weight_decay)))(
      "schedule", "cosine | step | constant", cxxopts::value<std::string>()->default_value(d.schedule))(
      "train-limit", "train on the first N samples of the train split (-1: all)",
      cxxopts::value<int64_t>()->default_value(std::to_string(d.limit)));
}

TrainOptions read_train_options(const cxxopts::ParseResult& r, TrainOptions o) {
  o.epochs = r["epochs"].as<int>();
  o.batch_size = r["batch-size"].as<int64_t>();
  o.optimizer = r["optimizer"].as<std::string>();
  o.lr = r["lr"].as<double>();
  o.momentum = r["momentum"].as<double>();
  o.weight_decay = r["weight-decay"].as<double>();
  o.schedule = r["schedule"].as<std::string>();
  o.limit = r["train-limit"].as<int64_t>();
  o.seed = seed(r);
  recipe::check_train_options(o, [](const std::string& key, const std::string& msg) {
    throw BadInput(flag_of(key), " ", msg);
  });
  return o;
}

void add_dist_options(cxxopts::Options& opts) {
  opts.add_options("distributed")("world-size", "processes in the job (default: WORLD_SIZE, else 1)", cxxopts::value<int>())(
      "rank", "this process, 0..world-size-1 (default: RANK)", cxxopts::value<int>())(
      "master", "ADDR:PORT where rank 0 hosts the rendezvous (default: MASTER_ADDR:MASTER_PORT)",
      cxxopts::value<std::string>())(
      "dist-timeout", "seconds to wait for the other processes (rendezvous, each exchange)",
      cxxopts::value<int>()->default_value("1800"));
}

dist::Options read_dist_options(const cxxopts::ParseResult& r) {
  auto opt_int = [&r](const char* k) { return r.count(k) ? std::optional<int>(r[k].as<int>()) : std::nullopt; };
  return dist::resolve(opt_int("world-size"), opt_int("rank"), r.count("master") ? r["master"].as<std::string>() : "",
                       r["dist-timeout"].as<int>());
}

ir::Graph load_model_file(const std::string& path) {
  require_file(path, "a shrink model .h5");
  return ir::load_model(path);
}

bool stderr_is_tty() { return isatty(STDERR_FILENO) == 1; }

std::string human_bytes(int64_t b) {
  char buf[64];
  if (b < 1024)
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
  else if (b < 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%.2f MiB", b / (1024.0 * 1024.0));
  return buf;
}

}  // namespace shrink::cli
