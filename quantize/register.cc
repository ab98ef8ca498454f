#include "quantize/register.h"

#include <filesystem>
#include <memory>

#include "compress/executor_setup.h"
#include "compress/ir/error.h"
#include "quantize/simulate.h"

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

}  // namespace

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
}

}  // namespace shrink::quant
