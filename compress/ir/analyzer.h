// Model analyzer (QUENN/LPDNN style): per layer and total parameters, MACs, weight and
// activation memory at a bit width, peak activation memory for sequential execution, a DRAM
// traffic estimate for a local memory (SRAM) size and an energy estimate.
//
//   ir::AnalyzeOptions o;  o.bits = 8;  o.sram_kib = 256;
//   ir::Analysis a = ir::analyze(g, o);   std::cout << ir::analysis_to_json(a).dump(2);
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compress/ir/graph.h"

namespace shrink::ir {

struct AnalyzeOptions {
  int bits = 32;                 ///< bit width of weights and activations
  double sram_kib = 256;         ///< local memory size
  double pj_per_mac = 1.0;       ///< energy per MAC (compute + on-chip memory)
  double pj_per_dram_bit = 10.0; ///< energy per bit moved to or from DRAM
};

struct LayerAnalysis {
  std::string name, op;
  Shape out_shape;
  int64_t params = 0;            ///< weight elements (nonzero count is `nonzero_params`)
  int64_t nonzero_params = 0;
  int64_t macs = 0;              ///< multiply-accumulates (Conv2d, Linear)
  int64_t weight_bytes = 0;      ///< params * bits / 8 (rounded up)
  int64_t activation_bytes = 0;  ///< output elements * bits / 8
  int64_t dram_bytes = 0;        ///< estimated DRAM traffic of this layer
  double energy_uj = 0;
};

struct Analysis {
  AnalyzeOptions options;
  std::vector<LayerAnalysis> layers;
  int64_t params = 0, nonzero_params = 0, macs = 0, weight_bytes = 0, activation_bytes = 0;
  int64_t peak_activation_bytes = 0;  ///< max over steps of live tensors (sequential order)
  int64_t dram_bytes = 0;
  double energy_uj = 0;
};

Analysis analyze(const Graph& g, const AnalyzeOptions& o);
/// {"options": {...}, "layers": [...], "total": {"params": P, "macs": M, ...}}
nlohmann::json analysis_to_json(const Analysis& a);
/// A fixed-width text table, one row per layer and a total row.
std::string analysis_to_table(const Analysis& a);

}  // namespace shrink::ir
