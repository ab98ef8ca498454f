#include "quantize/register.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "compress/dist.h"
#include "compress/executor_setup.h"
#include "compress/ir/error.h"
#include "quantize/simulate.h"
#include "quantize/sweep.h"

namespace shrink::quant {

namespace {

class QuantExtension : public ExecutorExtension {
 public:
  QuantExtension(Executor& ex, SimMode mode) : sim_(ex, mode), mode_(mode) {}
  void finish(ir::Graph& g) override {
    if (mode_ == SimMode::Train) snap_weights(g);
  }

 private:
  Simulation sim_;
  SimMode mode_;
};

QuantizeOptions read_stage(const recipe::StageArgs& a, const recipe::StageContext* ctx) {
  QuantizeOptions o;
  o.scheme = a.get_string("scheme", o.scheme);
  if (a.has("bits")) {
    int b = static_cast<int>(a.get_int("bits", 8));
    if (o.scheme == "kmeans") o.index_bits = b;
    else o.weight_bits = o.act_bits = b;
  }
  o.weight_bits = static_cast<int>(a.get_int("weight_bits", o.weight_bits));
  o.act_bits = static_cast<int>(a.get_int("act_bits", o.act_bits));
  o.per_channel = a.get_bool("per_channel", o.per_channel);
  o.method = a.get_string("method", o.method);
  o.calibration = a.get_int("calibration", ctx ? ctx->recipe.calibration : o.calibration);
  o.index_bits = static_cast<int>(a.get_int("index_bits", o.index_bits));
  o.centroid_bits = static_cast<int>(a.get_int("centroid_bits", o.centroid_bits));
  o.kmeans_init = a.get_string("kmeans_init", o.kmeans_init);
  if (ctx) o.seed = ctx->recipe.seed;
  return o;
}


std::vector<int> int_list(const recipe::StageArgs& a, const std::string& key, const std::vector<int>& dflt) {
  if (!a.has(key)) return dflt;
  std::vector<int> out;
  for (const auto& v : a.get_list(key, {})) {
    size_t used = 0;
    int b = 0;
    try {
      b = std::stoi(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != v.size()) a.fail(key, "'" + v + "' is not an integer");
    out.push_back(b);
  }
  return out;
}

struct SweepStage {
  SweepOptions sweep;
  ExploreOptions explore;
  bool do_explore = false;
  bool apply = false;
  int64_t limit = -1;
};

SweepStage read_sweep_stage(const recipe::StageArgs& a, const recipe::StageContext* ctx) {
  SweepStage s;
  SweepOptions& o = s.sweep;
  o.targets = a.get_list("targets", o.targets);
  o.methods = a.get_list("methods", o.methods);
  o.fixed_bits = int_list(a, "bits", o.fixed_bits);
  o.kmeans_bits = int_list(a, "kmeans_bits", a.has("bits") ? o.fixed_bits : o.kmeans_bits);
  o.calibration = a.get_int("calibration", ctx ? ctx->recipe.calibration : o.calibration);
  o.fl_method = a.get_string("method", o.fl_method);
  o.centroid_bits = static_cast<int>(a.get_int("centroid_bits", o.centroid_bits));
  o.workers = static_cast<int>(a.get_int("workers", 0));
  if (o.workers <= 0) o.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (ctx) o.seed = ctx->recipe.seed;
  s.limit = a.get_int("limit", -1);
  s.do_explore = a.get_bool("explore", false);
  s.apply = a.get_bool("apply", false);
  s.explore.max_drop = a.get_float("max_drop", s.explore.max_drop);
  s.explore.objective = a.get_string("objective", s.explore.objective);
  s.explore.bits = o.fixed_bits;
  s.explore.calibration = o.calibration;
  s.explore.fl_method = o.fl_method;
  return s;
}

}  // namespace

std::vector<recipe::OptionSpec> sweep_stage_options() {
  using recipe::OptType;
  return {
      {"targets", OptType::StringList, "[weights, activations]", "tensors to sweep: weights, activations", {}},
      {"methods", OptType::StringList, "[fixed, kmeans]", "fixed (widths 2..16) and / or kmeans (index bits 1..8)", {}},
      {"bits", OptType::StringList, "[2, 4, 6, 8, 12, 16]", "widths; also kmeans index bits when given (kmeans default [1, 2, 3, 4, 5, 6, 8])", {}},
      {"kmeans_bits", OptType::StringList, "(bits)", "kmeans index bits when they differ from bits", {}},
      {"limit", OptType::Int, "-1", "first N val images per measurement (-1: all 5,000)", {}},
      {"calibration", OptType::Int, "data.calibration", "images calibrating activation formats and centroids", {}},
      {"method", OptType::String, "mse", "FL choice: mse, maxabs or kl", {}},
      {"centroid_bits", OptType::Int, "8", "kmeans: centroid width 2..16", {}},
      {"workers", OptType::Int, "0", "points measured in parallel (0: all cores)", {}},
      {"explore", OptType::Bool, "false", "search the smallest mixed-precision configuration within max_drop", {}},
      {"max_drop", OptType::Float, "0.01", "exploration: accuracy budget against fp32 (0.01 = 1 pp)", {}},
      {"objective", OptType::String, "bytes", "exploration: bytes (weight storage) or bitops", {}},
      {"apply", OptType::Bool, "false", "quantize the model with the chosen configuration (needs explore)", {}},
  };
}

void register_sweep_stage() {
  if (recipe::find_stage("sweep")) return;
  recipe::StageSpec s;
  s.name = "sweep";
  s.description = "quantization sensitivity per layer on val (report.html), optional mixed-precision exploration";
  s.options = sweep_stage_options();
  s.changes_model = false;
  s.check = [](const recipe::StageArgs& a) {
    SweepStage st = read_sweep_stage(a, nullptr);
    try {
      check_sweep_options(st.sweep);
    } catch (const BadInput& e) {
      std::string m = e.what();
      const char* keys[] = {"targets", "methods", "bits", "calibration", "centroid_bits", "method"};
      for (const char* k : keys) {
        std::string flag = std::string("--") + k;
        for (char& c : flag) c = c == '_' ? '-' : c;
        if (m.rfind(flag, 0) == 0) a.fail(a.has(k) ? k : (a.has("kmeans_bits") ? "kmeans_bits" : k), m);
      }
      a.fail("bits", m);
    }
    if (!(st.explore.max_drop >= 0 && st.explore.max_drop < 1)) a.fail("max_drop", "expected 0 <= x < 1");
    if (st.explore.objective != "bytes" && st.explore.objective != "bitops") a.fail("objective", "expected bytes or bitops");
    if (st.limit == 0 || st.limit < -1) a.fail("limit", "expected a positive number of images or -1 (all)");
    if (st.apply && !st.do_explore) a.fail("apply", "needs explore: true");
  };
  s.run = [](recipe::StageContext& ctx, const recipe::StageArgs& a) {
    SweepStage st = read_sweep_stage(a, &ctx);
    if (ctx.group) dist::shard_sweep(st.sweep, *ctx.group);  // a distributed run: this rank's points
    const ir::Dataset& val = ctx.data.get(ir::Split::Val, st.limit);
    SweepResult r = sweep_layers(ctx.model, val, st.sweep);
    std::optional<ExploreResult> e;
    if (st.do_explore) e = explore(ctx.model, val, r, st.explore);
    write_sweep_report(ctx.dir, r, e ? &*e : nullptr);
    ctx.files = {"report.json", "report.csv", "report.html"};
    ctx.extra["points"] = r.records.size();
    ctx.extra["sweep_seconds"] = r.seconds;
    ctx.extra["baseline_accuracy"] = r.baseline_accuracy;
    if (e && e->chosen) {
      const MixedConfig& c = e->evaluated[*e->chosen];
      ctx.files.push_back("mixed_precision.yaml");
      ctx.extra["chosen"] = c.to_json();
      if (st.apply) {
        QuantizeOptions q;
        q.method = st.explore.fl_method;
        q.calibration = st.explore.calibration;
        for (const auto& [name, b] : c.act_bits) q.layers[name].act_bits = b;
        for (const auto& [name, b] : c.weight_bits) q.layers[name].weight_bits = b;
        ctx.model = quantize_model(ctx.model, ctx.data.get(ir::Split::Val, st.explore.calibration), q);
        // The model changed: its accuracy is the one the exploration measured for this
        // configuration (not the previous stage's, which a sweep otherwise carries over).
        ctx.accuracy = c.accuracy;
        ctx.accuracy_split = "val";
        ctx.accuracy_n = val.size;
      }
    } else if (st.apply) {
      throw BadInput("stage sweep: apply: no configuration within max_drop ", st.explore.max_drop, " of fp32");
    }
  };
  recipe::register_stage(std::move(s));
}

std::vector<recipe::OptionSpec> quantize_stage_options() {
  using recipe::OptType;
  return {
      {"scheme", OptType::String, "fixed", "fixed (dynamic fixed point [IL.FL]) or kmeans (codebook weights)", {}},
      {"bits", OptType::Int, "(none)", "fixed: weight and activation width; kmeans: index bits", {}},
      {"weight_bits", OptType::Int, "8", "fixed: weight width 2..16", {}},
      {"act_bits", OptType::Int, "8", "activation (and input) width 2..16", {}},
      {"per_channel", OptType::Bool, "false", "fixed: one weight FL per output channel", {}},
      {"method", OptType::String, "mse", "FL choice: mse, maxabs or kl", {}},
      {"calibration", OptType::Int, "data.calibration", "val images used to calibrate activations", {}},
      {"index_bits", OptType::Int, "4", "kmeans: index bits 1..8", {}},
      {"centroid_bits", OptType::Int, "8", "kmeans: centroid width 2..16", {}},
      {"kmeans_init", OptType::String, "linear", "kmeans: linear or kmeans++", {}},
      {"config", OptType::String, "(none)", "per-layer widths: a YAML file {layers: {conv1: {weight_bits: 4}}}", {}},
  };
}

void register_all() {
  register_executor_setup("quant", [](Executor& ex, ExecutorPurpose p) -> std::unique_ptr<ExecutorExtension> {
    if (!is_quantized(ex.graph())) return nullptr;
    return std::make_unique<QuantExtension>(ex, p == ExecutorPurpose::Train ? SimMode::Train : SimMode::Exact);
  });
  if (recipe::find_stage("quantize")) return;
  recipe::StageSpec s;
  s.name = "quantize";
  s.description = "fixed-point or k-means quantization; activation formats calibrated on val";
  s.options = quantize_stage_options();
  s.check = [](const recipe::StageArgs& a) {
    QuantizeOptions o = read_stage(a, nullptr);
    check_options(o, [&](const std::string& k, const std::string& m) {
      a.fail(a.has(k) ? k : (a.has("bits") ? "bits" : k), m);
    });
  };
  s.run = [](recipe::StageContext& ctx, const recipe::StageArgs& a) {
    QuantizeOptions o = read_stage(a, &ctx);
    if (a.has("config")) {
      std::string p = ctx.recipe.resolve(a.get_string("config", ""));
      if (!std::filesystem::exists(p)) a.fail("config", "no such file: " + p);
      o.layers = load_layer_config(p);
    }
    const ir::Dataset& cal = ctx.data.get(ir::Split::Val, o.calibration);
    ctx.model = quantize_model(ctx.model, cal, o);
    ctx.extra["scheme"] = o.scheme;
    ctx.extra["input_format"] = ctx.model.state["quant"]["input"];
  };
  recipe::register_stage(std::move(s));
  register_sweep_stage();
}

}  // namespace shrink::quant
