// shrink analyze: per-layer and total parameters, MACs, memory at a bit width, DRAM traffic
// for a local memory size and an energy estimate (docs/analyzer.md), as a table or JSON.
#include <iostream>

#include "compress/cli/common.h"
#include "compress/ir/analyzer.h"
#include "compress/ir/error.h"
#include "compress/zoo.h"

namespace shrink::cli {

int cmd_analyze(int argc, char** argv) {
  auto opts = make_options("analyze", "(m.h5 | --model NAME) [--bits 32] [--sram-kib 256] [--json]",
                           "Parameters, MACs, weight / activation memory, peak activation memory, DRAM "
                           "traffic and energy of a model file or a zoo model (1x28x28 input, 10 classes).");
  ir::AnalyzeOptions d;
  auto num = [](double v) {
    std::ostringstream os;
    os << v;
    return os.str();
  };
  opts.add_options()("model", "a zoo model instead of a file", cxxopts::value<std::string>())(
      "bits", "bit width of weights and activations (1..32)", cxxopts::value<int>()->default_value(std::to_string(d.bits)))(
      "sram-kib", "local memory (SRAM) size in KiB", cxxopts::value<double>()->default_value(num(d.sram_kib)))(
      "pj-per-mac", "energy per MAC in pJ", cxxopts::value<double>()->default_value(num(d.pj_per_mac)))(
      "pj-per-dram-bit", "energy per DRAM bit in pJ", cxxopts::value<double>()->default_value(num(d.pj_per_dram_bit)))(
      "json", "print {\"options\", \"layers\": [...], \"total\": {...}} as JSON");
  auto r = parse(opts, argc, argv, {"model-file"});
  if (!r) return 0;
  ir::AnalyzeOptions o;
  o.bits = (*r)["bits"].as<int>();
  o.sram_kib = (*r)["sram-kib"].as<double>();
  o.pj_per_mac = (*r)["pj-per-mac"].as<double>();
  o.pj_per_dram_bit = (*r)["pj-per-dram-bit"].as<double>();
  if (o.bits < 1 || o.bits > 32) throw BadInput("--bits must be in 1..32, got ", o.bits);
  if (!(o.sram_kib >= 0)) throw BadInput("--sram-kib must be >= 0, got ", o.sram_kib);
  if (!(o.pj_per_mac >= 0)) throw BadInput("--pj-per-mac must be >= 0, got ", o.pj_per_mac);
  if (!(o.pj_per_dram_bit >= 0)) throw BadInput("--pj-per-dram-bit must be >= 0, got ", o.pj_per_dram_bit);

  ir::Graph g;
  bool has_file = r->count("model-file") > 0, has_zoo = r->count("model") > 0;
  if (has_file == has_zoo) throw BadInput("analyze: give either a model file or --model NAME (a zoo model)");
  if (has_zoo) {
    zoo::ZooOptions zo;
    zo.seed = seed(*r);
    g = zoo::make((*r)["model"].as<std::string>(), zo);
  } else {
    g = load_model_file(input_file(*r, "model-file", "analyze", "the model, m.h5"));
  }
  g.infer_shapes();
  ir::Analysis a = ir::analyze(g, o);
  if (r->count("json"))
    std::cout << ir::analysis_to_json(a).dump(2) << "\n";
  else
    std::cout << ir::analysis_to_table(a);
  return 0;
}

}  // namespace shrink::cli
