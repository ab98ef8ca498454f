#include "prune/register.h"

#include <memory>

#include <yaml-cpp/yaml.h>

#include "compress/ir/analyzer.h"
#include "compress/ir/error.h"
#include "compress/recipe.h"
#include "prune/prune_model.h"

namespace shrink::prune {

namespace {

using recipe::OptType;

std::map<std::string, double> levels_from_file(const std::string& path, const recipe::StageArgs& a) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    a.fail("config", path + ": " + e.what());
  }
  if (!root.IsMap() || !root["layers"] || !root["layers"].IsMap()) a.fail("config", path + ": expected {layers: {NAME: LEVEL}}");
  std::map<std::string, double> out;
  for (const auto& kv : root["layers"]) {
    try {
      out[kv.first.as<std::string>()] = kv.second.as<double>();
    } catch (const YAML::Exception&) {
      a.fail("config", path + ": layer '" + kv.first.as<std::string>() + "': the level must be a number");
    }
  }
  return out;
}

PruneOptions read_stage(const recipe::StageArgs& a) {
  PruneOptions o;
  o.method = a.get_string("method", o.method);
  if (a.has("sparsity")) o.sparsity = a.get_float("sparsity", 0);
  if (a.has("ratio")) o.ratio = a.get_float("ratio", 0);
  o.global = a.get_bool("global", false);
  o.schedule = a.get_string("schedule", o.schedule);
  o.steps = static_cast<int>(a.get_int("steps", o.steps));
  o.thin = a.get_bool("thin", true);
  TrainOptions ft = recipe::default_finetune_options();
  ft.epochs = 0;
  o.train = recipe::read_train_options(a.sub("finetune"), ft);
  return o;
}

}  // namespace

void register_all() {
  if (recipe::find_stage("prune")) return;
  recipe::StageSpec s;
  s.name = "prune";
  s.description = "unstructured (magnitude) or structured (channel) pruning, channels removed; optional fine-tuning";
  TrainOptions ft = recipe::default_finetune_options();
  ft.epochs = 0;
  s.options = {
      {"method", OptType::String, "magnitude",
       "magnitude, or a channel criterion: random, mean-activation, entropy, scaled-entropy, l1, apoz, sensitivity", {}},
      {"sparsity", OptType::Float, "(none)", "magnitude: fraction of each layer's weights removed, [0, 1)", {}},
      {"ratio", OptType::Float, "(none)", "structured: fraction of each channel group's channels removed, [0, 1)", {}},
      {"config", OptType::String, "(none)", "per-layer levels: a YAML file {layers: {conv1: 0.3}} (only these are pruned)", {}},
      {"global", OptType::Bool, "false", "one threshold over all layers instead of one per layer", {}},
      {"schedule", OptType::String, "oneshot", "magnitude with finetune.epochs > 0: oneshot, iterative or agp", {}},
      {"steps", OptType::Int, "10", "iterative / agp: pruning steps", {}},
      {"samples", OptType::Int, "data.calibration", "val images ranking channels (activation criteria)", {}},
      {"thin", OptType::Bool, "true", "structured: remove the channels (false: keep them, zeroed by masks)", {}},
      {"finetune", OptType::Map, "(none)", "fine-tuning during / after pruning: the keys of the finetune stage (epochs 0)",
       recipe::train_option_specs(ft)},
      recipe::distill_option_spec(),
  };
  s.check = [](const recipe::StageArgs& a) {
    PruneOptions o = read_stage(a);
    if (a.has("config")) o.layers = {{"(config)", 0.0}};  // checked when the file is read
    check_options(o, [&](const std::string& key, const std::string& msg) { a.fail(key, msg); });
    recipe::check_train_options(o.train, [&](const std::string& k, const std::string& m) { a.sub("finetune").fail(k, m); });
    recipe::check_distill(a);
    if (a.get_int("samples", 1) < 1) a.fail("samples", "must be >= 1");
  };
  s.run = [](recipe::StageContext& ctx, const recipe::StageArgs& a) {
    PruneOptions o = read_stage(a);
    if (a.has("config")) o.layers = levels_from_file(ctx.recipe.resolve(a.get_string("config", "")), a);
    o.seed = o.train.seed = ctx.recipe.seed;
    ctx.prepare(o.train);  // resumable runs: epoch checkpoints; data parallel
    std::unique_ptr<Executor> teacher = recipe::make_teacher(ctx, a, o.train);
    const ir::Dataset& rank = ctx.data.get(ir::Split::Val, a.get_int("samples", ctx.recipe.calibration));
    const ir::Dataset* train_set = o.train.epochs > 0 ? &ctx.data.get(ir::Split::Train, o.train.limit) : nullptr;
    const ir::Dataset& val = ctx.data.get(ir::Split::Val, ctx.recipe.val_limit);
    const ir::Analysis before = ir::analyze(ctx.model, {});
    ctx.model = prune_model(ctx.model, o, {.train = train_set, .val = o.train.epochs > 0 ? &val : nullptr, .rank = &rank});
    const ir::Analysis after = ir::analyze(ctx.model, {});
    ctx.extra["method"] = o.method;
    ctx.extra["weight_sparsity"] = weight_sparsity(ctx.model).at("");
    ctx.extra["params_before"] = before.params;
    ctx.extra["macs_before"] = before.macs;
    ctx.extra["nonzero_params"] = after.nonzero_params;
  };
  recipe::register_stage(std::move(s));
}

}  // namespace shrink::prune
