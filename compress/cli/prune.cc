// shrink prune: unstructured (magnitude; one-shot, iterative or AGP with fine-tuning) and
// structured (channel) pruning with real channel removal (prune/prune_model.h, docs/pruning.md).
#include <cstdio>
#include <memory>

#include <yaml-cpp/yaml.h>

#include "compress/cli/common.h"
#include "compress/executor.h"
#include "compress/executor_setup.h"
#include "compress/ir/analyzer.h"
#include "compress/ir/dataset.h"
#include "compress/ir/error.h"
#include "compress/ir/model_file.h"
#include "compress/recipe.h"
#include "prune/prune_model.h"

namespace shrink::cli {

namespace {

/// {layers: {conv1: 0.3, ...}} -> name -> level.
std::map<std::string, double> load_levels(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw BadInput(path, ": ", e.what());
  }
  if (!root.IsMap() || !root["layers"] || !root["layers"].IsMap())
    throw BadInput(path, ": expected a map {layers: {NAME: LEVEL, ...}}");
  for (const auto& kv : root)
    if (kv.first.as<std::string>() != "layers") throw BadInput(path, ": unknown key '", kv.first.as<std::string>(), "' (known: layers)");
  std::map<std::string, double> out;
  for (const auto& kv : root["layers"]) {
    try {
      out[kv.first.as<std::string>()] = kv.second.as<double>();
    } catch (const YAML::Exception&) {
      throw BadInput(path, ": layer '", kv.first.as<std::string>(), "': the level must be a number");
    }
  }
  return out;
}

}  // namespace

int cmd_prune(int argc, char** argv) {
  auto opts = make_options(
      "prune",
      "m.h5 --data DATASET --method magnitude|random|mean-activation|entropy|scaled-entropy|l1|apoz|sensitivity "
      "(--sparsity S | --ratio R | --config p.yaml) [--global] [--schedule oneshot|iterative|agp --steps N] "
      "[--epochs E] [--distill] [--samples N] [--keep-masks] -o p.h5",
      "Unstructured magnitude pruning (--sparsity: fraction of weights) or structured channel pruning ranked by a "
      "criterion (--ratio: fraction of channels, which are then removed). docs/pruning.md.");
  add_data_options(opts);
  opts.add_options()("o,output", "output model (.h5)", cxxopts::value<std::string>())(
      "method", "magnitude | random | mean-activation | entropy | scaled-entropy | l1 | apoz | sensitivity",
      cxxopts::value<std::string>())("sparsity", "magnitude: fraction of weights removed, [0, 1)", cxxopts::value<double>())(
      "ratio", "structured: fraction of channels removed per group, [0, 1)", cxxopts::value<double>())(
      "config", "per-layer levels, YAML {layers: {conv1: 0.3}} (only these are pruned)", cxxopts::value<std::string>())(
      "global", "one threshold over all layers instead of one per layer")(
      "schedule", "magnitude with --epochs: oneshot | iterative | agp",
      cxxopts::value<std::string>()->default_value("oneshot"))(
      "steps", "iterative / agp: pruning steps", cxxopts::value<int>()->default_value("10"))(
      "samples", "val images ranking channels (activation criteria)", cxxopts::value<int64_t>()->default_value("1000"))(
      "keep-masks", "structured: keep the channels, zeroed by masks (no thinning)")(
      "limit", "val images for the accuracy printed before and after (-1: all)",
      cxxopts::value<int64_t>()->default_value("-1"));
  opts.add_options("fine-tuning")("epochs", "fine-tuning epochs after / during pruning",
                                  cxxopts::value<int>()->default_value("0"))(
      "lr", "fine-tuning learning rate (Adam, cosine)", cxxopts::value<double>()->default_value("0.0001"))(
      "batch-size", "samples per optimizer step", cxxopts::value<int64_t>()->default_value("64"))(
      "train-limit", "fine-tune on the first N training samples (-1: all)", cxxopts::value<int64_t>()->default_value("-1"))(
      "distill", "fine-tune with knowledge distillation from the unpruned model (T 5, alpha 2)");
  add_dist_options(opts);
  auto r = parse(opts, argc, argv, {"model-file"});
  if (!r) return 0;
  const std::string in = input_file(*r, "model-file", "prune", "the model to prune, m.h5");
  const std::string data = required(*r, "data", "prune", "--data DATASET");
  const std::string out = required(*r, "output", "prune", "-o p.h5 (the output model)");
  const std::string method = required(*r, "method", "prune", "--method NAME");
  require_output_folder(out);
  const std::string data_dir = (*r)["data-dir"].as<std::string>();

  prune::PruneOptions o;
  o.method = method;
  if (r->count("sparsity")) o.sparsity = (*r)["sparsity"].as<double>();
  if (r->count("ratio")) o.ratio = (*r)["ratio"].as<double>();
  if (r->count("config")) {
    const std::string cfg = (*r)["config"].as<std::string>();
    require_file(cfg, "--config (pruning config)");
    o.layers = load_levels(cfg);
  }
  o.global = r->count("global") > 0;
  o.schedule = (*r)["schedule"].as<std::string>();
  o.steps = (*r)["steps"].as<int>();
  o.thin = r->count("keep-masks") == 0;
  o.seed = seed(*r);
  o.train = recipe::default_finetune_options();
  o.train.epochs = (*r)["epochs"].as<int>();
  o.train.lr = (*r)["lr"].as<double>();
  o.train.batch_size = (*r)["batch-size"].as<int64_t>();
  o.train.limit = (*r)["train-limit"].as<int64_t>();
  o.train.seed = o.seed;
  o.train.progress = stderr_is_tty();
  if (!(o.train.lr > 0)) throw BadInput("--lr must be > 0");
  if (o.train.batch_size < 1) throw BadInput("--batch-size must be >= 1");
  prune::check_options(o, [](const std::string& key, const std::string& msg) {
    throw BadInput(key.rfind("layers.", 0) == 0 ? "--config " + key.substr(7) : "--" + key, " ", msg);
  });
  const int64_t samples = (*r)["samples"].as<int64_t>(), limit = (*r)["limit"].as<int64_t>();
  if (samples < 1) throw BadInput("--samples must be >= 1");
  if (limit == 0 || limit < -1) throw BadInput("--limit must be -1 (all) or >= 1, got ", limit);

  const ir::Graph g = load_model_file(in);
  const ir::Dataset val = ir::load_dataset(data, ir::Split::Val, limit, data_dir);
  const ir::Dataset rank = ir::load_dataset(data, ir::Split::Val, samples, data_dir);
  std::unique_ptr<ir::Dataset> train_set;
  if (o.train.epochs > 0)
    train_set = std::make_unique<ir::Dataset>(ir::load_dataset(data, ir::Split::Train, o.train.limit, data_dir));
  std::unique_ptr<Executor> teacher;
  if (r->count("distill")) {
    if (o.train.epochs == 0) throw BadInput("--distill needs --epochs >= 1 (it acts while fine-tuning)");
    teacher = std::make_unique<Executor>(g);
    teacher->set_training(false);
    o.train.teacher = teacher.get();
  }
  auto accuracy = [&](const ir::Graph& m) {
    return evaluate(make_model_executor(m, ExecutorPurpose::Eval)->executor(), val, 256, stderr_is_tty()).accuracy;
  };
  // Data parallel fine-tuning (docs/scaling.md): every rank prunes the same model with the same
  // decisions and trains its slice of every batch; rank 0 measures and writes the result.
  dist::Group group(read_dist_options(*r));
  use_data_parallel(o.train, group);
  if (group.rank() != 0) {
    prune::prune_model(g, o, {.train = train_set.get(), .val = nullptr, .rank = &rank});
    return 0;
  }
  const double before = accuracy(g);
  const ir::Graph p = prune::prune_model(g, o, {.train = train_set.get(), .val = nullptr, .rank = &rank});
  const double after = accuracy(p);
  ir::save_model(p, out);
  const ir::Analysis a0 = ir::analyze(g, {}), a1 = ir::analyze(p, {});
  std::printf("val accuracy %.4f before, %.4f after %s pruning (%lld images); params %lld -> %lld (nonzero %lld), "
              "MACs %lld -> %lld, weight sparsity %.4f; wrote %s\n",
              before, after, method.c_str(), static_cast<long long>(val.size), static_cast<long long>(a0.params),
              static_cast<long long>(a1.params), static_cast<long long>(a1.nonzero_params),
              static_cast<long long>(a0.macs), static_cast<long long>(a1.macs),
              prune::weight_sparsity(p).at(""), out.c_str());
  return 0;
}

}  // namespace shrink::cli
