// shrink quantize: fixed-point [IL.FL] or k-means codebook quantization of a model; activation
// formats calibrated on the first --calibration images of val; prints val accuracy before/after.
#include <cstdio>

#include "compress/cli/common.h"
#include "compress/executor_setup.h"
#include "compress/ir/dataset.h"
#include "compress/ir/error.h"
#include "compress/ir/model_file.h"
#include "quantize/quantize_model.h"

namespace shrink::cli {

int cmd_quantize(int argc, char** argv) {
  auto opts = make_options(
      "quantize",
      "m.h5 --data DATASET --scheme fixed|kmeans [--bits 8 | --weight-bits W --act-bits A | --config q.yaml] "
      "[--per-channel] [--method mse|maxabs|kl] [--calibration N] [--limit N] [--index-bits b] [--centroid-bits c] -o q.h5",
      "Fixed-point [IL.FL] or k-means codebook quantization (docs/quantization.md). For kmeans, --bits are the "
      "index bits (1..8); activations are fixed point (--act-bits). Prints the val accuracy before and after.");
  add_data_options(opts);
  opts.add_options()("o,output", "output model (.h5)", cxxopts::value<std::string>())(
      "scheme", "fixed | kmeans", cxxopts::value<std::string>()->default_value("fixed"))(
      "bits", "fixed: weight and activation width 2..16; kmeans: index bits 1..8", cxxopts::value<int>())(
      "weight-bits", "fixed: weight width 2..16 (default 8)", cxxopts::value<int>())(
      "act-bits", "activation width 2..16 (default 8)", cxxopts::value<int>())(
      "config", "per-layer widths, YAML {layers: {conv1: {weight_bits: 4, act_bits: 8}}}", cxxopts::value<std::string>())(
      "per-channel", "fixed: one weight FL per output channel")(
      "method", "FL choice: mse | maxabs | kl", cxxopts::value<std::string>()->default_value("mse"))(
      "calibration", "val images to calibrate activations", cxxopts::value<int64_t>()->default_value("1000"))(
      "limit", "val images for the accuracy printed before and after (-1: all)",
      cxxopts::value<int64_t>()->default_value("-1"))(
      "index-bits", "kmeans: index bits 1..8 (default 4)", cxxopts::value<int>())(
      "centroid-bits", "kmeans: centroid width 2..16", cxxopts::value<int>()->default_value("8"))(
      "kmeans-init", "kmeans: linear | kmeans++", cxxopts::value<std::string>()->default_value("linear"));
  auto r = parse(opts, argc, argv, {"model-file"});
  if (!r) return 0;
  std::string in = input_file(*r, "model-file", "quantize", "the model to quantize, m.h5");
  std::string data = required(*r, "data", "quantize", "--data DATASET");
  std::string out = required(*r, "output", "quantize", "-o q.h5 (the output model)");
  require_output_folder(out);
  std::string data_dir = (*r)["data-dir"].as<std::string>();

  quant::QuantizeOptions o;
  o.scheme = (*r)["scheme"].as<std::string>();
  if (o.scheme != "fixed" && o.scheme != "kmeans") throw BadInput("--scheme ", o.scheme, ": expected fixed or kmeans");
  if (r->count("bits")) {
    int b = (*r)["bits"].as<int>();
    if (o.scheme == "kmeans") {
      if (b < 1 || b > 8) throw BadInput("--bits ", b, ": expected 1..8 (k-means index bits)");
      o.index_bits = b;
    } else {
      if (b < 2 || b > 16) throw BadInput("--bits ", b, ": expected 2..16");
      o.weight_bits = o.act_bits = b;
    }
  }
  auto flag_bits = [&](const char* flag, int lo, int hi, int& field) {
    if (!r->count(flag)) return;
    int b = (*r)[flag].as<int>();
    if (b < lo || b > hi) throw BadInput("--", flag, " ", b, ": expected ", lo, "..", hi);
    field = b;
  };
  flag_bits("weight-bits", 2, 16, o.weight_bits);
  flag_bits("act-bits", 2, 16, o.act_bits);
  flag_bits("index-bits", 1, 8, o.index_bits);
  flag_bits("centroid-bits", 2, 16, o.centroid_bits);
  o.per_channel = r->count("per-channel") > 0;
  o.method = (*r)["method"].as<std::string>();
  o.calibration = (*r)["calibration"].as<int64_t>();
  o.kmeans_init = (*r)["kmeans-init"].as<std::string>();
  o.seed = seed(*r);
  quant::check_options(o, [](const std::string& key, const std::string& msg) {
    std::string flag = key;
    for (char& c : flag) c = c == '_' ? '-' : c;
    throw BadInput("--", flag, " ", msg);
  });
  if (r->count("config")) {
    std::string cfg = (*r)["config"].as<std::string>();
    require_file(cfg, "--config (quantization config)");
    o.layers = quant::load_layer_config(cfg);
    quant::check_options(o, [&cfg](const std::string& key, const std::string& msg) { throw BadInput(cfg, ": ", key, " ", msg); });
  }

  ir::Graph g = load_model_file(in);
  const int64_t limit = (*r)["limit"].as<int64_t>();
  if (limit == 0 || limit < -1) throw BadInput("--limit must be -1 (all) or >= 1, got ", limit);
  const ir::Dataset val = ir::load_dataset(data, ir::Split::Val, limit, data_dir);
  ir::Dataset cal = ir::load_dataset(data, ir::Split::Val, o.calibration, data_dir);
  double before = evaluate(make_model_executor(g, ExecutorPurpose::Eval)->executor(), val, 256, stderr_is_tty()).accuracy;
  ir::Graph q = quant::quantize_model(g, cal, o);
  double after = evaluate(make_model_executor(q, ExecutorPurpose::Eval)->executor(), val, 256, stderr_is_tty()).accuracy;
  ir::save_model(q, out);
  std::printf("val accuracy %.4f before, %.4f after %s quantization (%lld images); wrote %s\n", before, after,
              o.scheme.c_str(), static_cast<long long>(val.size), out.c_str());
  return 0;
}

}  // namespace shrink::cli
