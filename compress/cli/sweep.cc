// shrink sweep: quantization sensitivity (Layer Analysis) per layer x target x method x width
// on the val split, optionally followed by the mixed-precision exploration (--explore).
// Points are journalled to DIR/points.jsonl as they finish, so --resume skips them.
// With pruning methods (magnitude, the structured criteria) it is the pruning sensitivity sweep
// instead: each layer alone pruned at each of --levels (prune/sweep.h).
// Distributed (--world-size / WORLD_SIZE > 1, or `shrink launch -n N -- sweep ...`): each
// process measures its share of the points; rank 0 keeps the journal and writes the report.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <type_traits>

#include "compress/cli/common.h"
#include "compress/ir/dataset.h"
#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "prune/sweep.h"
#include "quantize/sweep.h"
#include "quantize/sweep_journal.h"

namespace shrink::cli {
namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

/// Comma-separated numbers: int_list / double_list; BadInput naming the flag otherwise.
template <typename T>
std::vector<T> number_list(const std::string& s, const char* flag, const char* what) {
  std::vector<T> out;
  for (const auto& item : split_list(s)) {
    size_t used = 0;
    T v{};
    try {
      if constexpr (std::is_same_v<T, int>) v = std::stoi(item, &used);
      else v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || item.empty()) throw BadInput("--", flag, " ", s, ": expected ", what, " separated by commas");
    out.push_back(v);
  }
  if (out.empty()) throw BadInput("--", flag, " ", s, ": expected at least one number");
  return out;
}

std::vector<int> int_list(const std::string& s, const char* flag) { return number_list<int>(s, flag, "integers"); }

/// FNV-1a of the model file: a resumed sweep must be of the same model.
std::string fingerprint(const std::string& path) {
  std::string bytes = ir::read_file(path);
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

/// True for pruning methods only, false for quantization methods only; BadInput for an unknown
/// method or a mix of both kinds.
bool is_pruning_sweep(const std::vector<std::string>& methods) {
  const std::vector<std::string> quant = {"fixed", "kmeans"}, pruning = prune::sweep_methods();
  auto in = [](const std::vector<std::string>& v, const std::string& m) { return std::find(v.begin(), v.end(), m) != v.end(); };
  auto names = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& m : v) s += (s.empty() ? "" : ", ") + m;
    return s;
  };
  if (methods.empty()) throw BadInput("--methods: expected at least one method");
  bool any_quant = false, any_pruning = false;
  for (const auto& m : methods) {
    if (!in(quant, m) && !in(pruning, m))
      throw BadInput("--methods ", m, ": unknown method (quantization: ", names(quant), "; pruning: ", names(pruning), ")");
    any_quant |= in(quant, m);
    any_pruning |= in(pruning, m);
  }
  if (any_quant && any_pruning)
    throw BadInput("--methods: do not mix quantization (", names(quant), ") and pruning (", names(pruning),
                   ") methods in one sweep");
  return any_pruning;
}

void make_output_folder(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) throw BadInput("-o ", dir, ": cannot create the folder");
}

/// The pruning sensitivity sweep: DIR/report.json, report.csv, report.html.
int prune_sweep(const cxxopts::ParseResult& r, const std::string& in, const std::string& data,
                const std::string& data_dir, const std::string& dir, const std::vector<std::string>& methods) {
  const dist::Options dop = read_dist_options(r);
  prune::SweepOptions o;
  o.methods = methods;
  if (r.count("levels")) o.levels = number_list<double>(r["levels"].as<std::string>(), "levels", "numbers");
  o.seed = seed(r);
  o.progress = stderr_is_tty();
  int threads = r.count("threads") ? r["threads"].as<int>() : 0;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  o.workers = r.count("workers") ? r["workers"].as<int>() : threads;
  prune::check_sweep_options(o);
  const int64_t limit = r["limit"].as<int64_t>();
  if (limit == 0 || limit < -1) throw BadInput("--limit ", limit, ": expected a positive number of images or -1 (all)");
  const int64_t samples = r.count("samples") ? r["samples"].as<int64_t>() : (limit > 0 ? std::min<int64_t>(1000, limit) : 1000);
  if (samples < 1) throw BadInput("--samples ", samples, ": expected >= 1 images");

  const ir::Graph g = load_model_file(in);
  const ir::Dataset val = ir::load_dataset(data, ir::Split::Val, limit, data_dir);
  const ir::Dataset rank = ir::load_dataset(data, ir::Split::Val, samples, data_dir);
  if (dop.rank == 0) make_output_folder(dir);
  dist::Group group(dop);
  dist::shard_sweep(o, group);

  const prune::SweepResult s = prune::sweep_pruning(g, val, &rank, o);
  if (group.rank() != 0) return 0;  // rank 0 writes the report
  prune::write_sweep_report(dir, s);
  double per_point = 0;
  for (const auto& rec : s.records) per_point += rec.seconds;
  std::printf("pruning sweep of %s: %zu records on %lld val images (unpruned accuracy %.4f), %.1f s, %.3f s per point\n",
              g.meta.name.c_str(), s.records.size(), static_cast<long long>(s.images), s.baseline.accuracy, s.seconds,
              s.records.empty() ? 0.0 : per_point / static_cast<double>(s.records.size()));
  std::printf("report: %s/report.html\n", dir.c_str());
  return 0;
}

}  // namespace

int cmd_sweep(int argc, char** argv) {
  auto opts = make_options(
      "sweep",
      "m.h5 --data DATASET [--targets weights,activations] [--methods fixed,kmeans] [--bits 2,4,6,8,12,16] "
      "[--limit N] [--workers N] [--resume] [--explore --max-drop 0.01] -o DIR/\n"
      "  shrink sweep m.h5 --data DATASET --methods l1,magnitude,... [--levels 0.1,0.5] [--limit N] "
      "[--samples N] [--workers N] -o DIR/",
      "Quantization sensitivity sweep (docs/quantization.md): each conv / linear layer's weights or output "
      "activations alone quantized at each width, accuracy, loss and SQNR measured on the val split. Writes "
      "DIR/report.json, report.csv, report.html. --explore then searches the smallest mixed-precision "
      "configuration within --max-drop of fp32 and writes DIR/mixed_precision.yaml for quantize --config. "
      "With pruning methods (magnitude, random, mean-activation, entropy, scaled-entropy, l1, apoz, "
      "sensitivity) it is the pruning sensitivity sweep (docs/pruning.md): each layer / channel group alone "
      "pruned at each level, the same three report files.");
  add_data_options(opts);
  add_dist_options(opts);
  opts.add_options()("o,output", "output folder (created if missing)", cxxopts::value<std::string>())(
      "targets", "weights,activations", cxxopts::value<std::string>()->default_value("weights,activations"))(
      "methods", "fixed,kmeans (quantization) or pruning methods: magnitude, random, mean-activation, entropy, "
      "scaled-entropy, l1, apoz, sensitivity", cxxopts::value<std::string>()->default_value("fixed,kmeans"))(
      "levels", "pruning: levels in [0, 1) (default structured 0.1,...,0.9; magnitude 0.5,0.6,0.7,0.8,0.9,0.95,0.98)",
      cxxopts::value<std::string>())(
      "samples", "pruning: val images ranking channels for the activation criteria (default 1000, at most --limit)",
      cxxopts::value<int64_t>())(
      "bits", "widths (fixed: 2..16, default 2,4,6,8,12,16; kmeans: index bits 1..8, default 1,2,3,4,5,6,8)",
      cxxopts::value<std::string>())(
      "kmeans-bits", "kmeans index bits when they differ from --bits", cxxopts::value<std::string>())(
      "layers", "only these layers (comma separated; default all conv / linear)", cxxopts::value<std::string>())(
      "limit", "first N val images for every measurement (-1: all 5,000)", cxxopts::value<int64_t>()->default_value("-1"))(
      "calibration", "images (of those) calibrating activation formats and centroids",
      cxxopts::value<int64_t>()->default_value("1000"))(
      "method", "FL choice: mse | maxabs | kl", cxxopts::value<std::string>()->default_value("mse"))(
      "centroid-bits", "kmeans: centroid width 2..16", cxxopts::value<int>()->default_value("8"))(
      "kmeans-init", "kmeans: linear | kmeans++", cxxopts::value<std::string>()->default_value("linear"))(
      "workers", "points measured in parallel (default: --threads, i.e. all cores)", cxxopts::value<int>())(
      "no-cache", "rerun the whole network for every point (no activation cache)")(
      "resume", "skip the points already in DIR/points.jsonl")(
      "explore", "then search a mixed-precision configuration within --max-drop")(
      "max-drop", "exploration: accuracy budget against fp32 (0.01 = 1 pp)", cxxopts::value<double>()->default_value("0.01"))(
      "objective", "exploration: bytes | bitops", cxxopts::value<std::string>()->default_value("bytes"));
  auto r = parse(opts, argc, argv, {"model-file"});
  if (!r) return 0;
  std::string in = input_file(*r, "model-file", "sweep", "the model to analyse, m.h5");
  std::string data = required(*r, "data", "sweep", "--data DATASET");
  std::string dir = required(*r, "output", "sweep", "-o DIR/ (the report folder)");
  std::string data_dir = (*r)["data-dir"].as<std::string>();
  const std::vector<std::string> methods = split_list((*r)["methods"].as<std::string>());
  if (is_pruning_sweep(methods)) {
    for (const char* flag : {"targets", "bits", "kmeans-bits", "layers", "calibration", "method", "centroid-bits",
                             "kmeans-init", "no-cache", "resume", "explore", "max-drop", "objective"})
      if (r->count(flag)) throw BadInput("--", flag, " applies to quantization sweeps (fixed, kmeans), not to pruning methods");
    return prune_sweep(*r, in, data, data_dir, dir, methods);
  }
  for (const char* flag : {"levels", "samples"})
    if (r->count(flag)) throw BadInput("--", flag, " applies to pruning sweeps (--methods magnitude, l1, ...)");

  quant::SweepOptions o;
  o.targets = split_list((*r)["targets"].as<std::string>());
  o.methods = methods;
  if (r->count("bits")) o.fixed_bits = o.kmeans_bits = int_list((*r)["bits"].as<std::string>(), "bits");
  if (r->count("kmeans-bits")) o.kmeans_bits = int_list((*r)["kmeans-bits"].as<std::string>(), "kmeans-bits");
  if (r->count("layers")) o.layers = split_list((*r)["layers"].as<std::string>());
  o.calibration = (*r)["calibration"].as<int64_t>();
  o.fl_method = (*r)["method"].as<std::string>();
  o.centroid_bits = (*r)["centroid-bits"].as<int>();
  o.kmeans_init = (*r)["kmeans-init"].as<std::string>();
  o.seed = seed(*r);
  o.cache = !r->count("no-cache");
  o.progress = stderr_is_tty();
  int threads = r->count("threads") ? (*r)["threads"].as<int>() : 0;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  o.workers = r->count("workers") ? (*r)["workers"].as<int>() : threads;
  quant::check_sweep_options(o);
  const int64_t limit = (*r)["limit"].as<int64_t>();
  if (limit == 0 || limit < -1) throw BadInput("--limit ", limit, ": expected a positive number of images or -1 (all)");
  quant::ExploreOptions eo;
  const bool do_explore = r->count("explore") > 0;
  eo.max_drop = (*r)["max-drop"].as<double>();
  eo.objective = (*r)["objective"].as<std::string>();
  eo.bits = o.fixed_bits;
  eo.calibration = o.calibration;
  eo.fl_method = o.fl_method;
  eo.progress = o.progress;
  if (!(eo.max_drop >= 0 && eo.max_drop < 1)) throw BadInput("--max-drop ", eo.max_drop, ": expected 0 <= x < 1");
  if (eo.objective != "bytes" && eo.objective != "bitops")
    throw BadInput("--objective ", eo.objective, ": expected bytes or bitops");

  const dist::Options dop = read_dist_options(*r);
  ir::Graph g = load_model_file(in);
  const ir::Dataset val = ir::load_dataset(data, ir::Split::Val, limit, data_dir);
  const bool lead = dop.rank == 0;  // rank 0 (or the only process) keeps the journal, writes the report
  if (lead) make_output_folder(dir);

  // The journal: a header line naming what was swept, then one record per line.
  nlohmann::json header = {{"model", fingerprint(in)},       {"images", val.size},
                           {"calibration", o.calibration},  {"method", o.fl_method},
                           {"centroid_bits", o.centroid_bits}, {"kmeans_init", o.kmeans_init},
                           {"seed", o.seed}};
  const std::string journal = dir + "/points.jsonl";
  std::optional<quant::SweepJournal> jf;  // rank 0 only
  if (lead && r->count("resume") && std::filesystem::exists(journal)) {
    // resume() drops a line torn by an interruption (its point is measured again) and cuts the
    // file after the last complete line, so the next record starts a line of its own.
    jf = quant::SweepJournal::resume(journal);
    const nlohmann::json& h = jf->header();
    if (!h.contains("sweep") || !h["sweep"].is_object()) throw BadInput(journal, ": line 1 is not a sweep journal header");
    for (auto& [k, v] : header.items())
      if (h["sweep"].value(k, nlohmann::json()) != v)
        throw BadInput("cannot resume ", journal, ": it was made with ", k, " = ", h["sweep"].value(k, nlohmann::json()).dump(),
                       ", this sweep has ", v.dump(), " (use a new folder or drop --resume)");
    for (const nlohmann::json& j : jf->records()) {
      try {
        o.done.push_back(quant::SweepRecord::from_json(j));
      } catch (const BadInput&) {
        continue;
      }
    }
    std::fprintf(stderr, "resuming: %zu points already measured\n", o.done.size());
  } else if (lead) {
    jf = quant::SweepJournal::create(journal, {{"sweep", header}});
  }
  // Joined after rank 0 has read or started the journal: every rank gets rank 0's `done`.
  dist::Group group(dop);
  if (group.distributed()) {
    nlohmann::json done = nlohmann::json::array();
    for (const auto& rec : o.done) done.push_back(rec.to_json());
    o.done.clear();
    for (const auto& j : nlohmann::json::parse(group.broadcast(done.dump()))) o.done.push_back(quant::SweepRecord::from_json(j));
    dist::shard_sweep(o, group);
  }
  std::set<std::string> journalled;
  for (const auto& rec : o.done) journalled.insert(rec.key());
  if (lead) {
    o.on_record = [&jf, &journalled](const quant::SweepRecord& rec) {
      jf->append(rec.to_json());  // one write(2) + fdatasync
      journalled.insert(rec.key());
    };
  }

  quant::SweepResult s = quant::sweep_layers(g, val, o);
  if (!lead) return 0;
  for (const auto& rec : s.records)  // the other ranks' points
    if (journalled.insert(rec.key()).second) jf->append(rec.to_json());
  std::optional<quant::ExploreResult> e;
  if (do_explore) e = quant::explore(g, val, s, eo);
  quant::write_sweep_report(dir, s, e ? &*e : nullptr);

  double per_point = 0;
  int measured = 0;
  for (const auto& rec : s.records) per_point += rec.seconds, ++measured;
  std::printf("sweep of %s: %zu records on %lld val images (fp32 accuracy %.4f), %.1f s, %.3f s per point%s\n",
              g.meta.name.c_str(), s.records.size(), static_cast<long long>(s.images), s.baseline_accuracy, s.seconds,
              measured ? per_point / measured : 0.0, o.cache ? "" : " (no cache)");
  if (e) {
    if (e->chosen) {
      const auto& c = e->evaluated[*e->chosen];
      std::printf("exploration: %s, %lld weight bytes, accuracy %.4f", c.label.c_str(),
                  static_cast<long long>(c.weight_bytes), c.accuracy);
      if (e->uniform8) {
        const auto& u = e->evaluated[*e->uniform8];
        std::printf(" (uniform 8-bit: %lld bytes, accuracy %.4f)", static_cast<long long>(u.weight_bytes), u.accuracy);
      }
      std::printf("; wrote %s/mixed_precision.yaml\n", dir.c_str());
    } else {
      std::printf("exploration: no configuration within %.4f of fp32\n", eo.max_drop);
    }
  }
  std::printf("report: %s/report.html\n", dir.c_str());
  return 0;
}

}  // namespace shrink::cli
