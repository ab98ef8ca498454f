// Measures an exported .shr model with the runtime itself (shrink_rt), so the toolkit reports
// what the device computes, not what the simulation predicts.
//
//   exporter::RuntimeEval e = exporter::runtime_eval("out/model.shr", test_set);
//   printf("%.4f on %lld images, arena %zu bytes\n", e.accuracy, (long long)e.n, e.arena_bytes);
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/dataset.h"

namespace shrink::exporter {

struct RuntimeEval {
  double accuracy = 0;      ///< top-1 on the data set (first maximum wins, as shrink eval)
  int64_t n = 0;            ///< samples run
  size_t file_bytes = 0;    ///< the .shr file (flash)
  size_t arena_bytes = 0;   ///< shrink_rt_arena_size (RAM for activations and scratch)
  double latency_us = 0;    ///< median time of one shrink_rt_run (batch 1, this host, one thread)
  /// "Fits on" estimates (runtime/tools/fits_on.h, docs/mcu.md): {target, fits, flash, ram}
  /// for each microcontroller of shrink-rt inspect, in its order.
  struct Fit {
    std::string target;
    bool fits = false;
    size_t flash = 0, ram = 0;
  };
  std::vector<Fit> fits_on;
};

/// One op of a .shr file that has constants (weights, bias, lookup table), as the runtime loaded it.
struct DeployedLayer {
  std::string name;      ///< the op's node name (the toolkit's layer name)
  std::string op;        ///< "Conv2d", "Linear", ...
  std::string storage;   ///< of the weight: "dense", "csr", "codebook", "csr-codebook" ("" without one)
  bool huffman = false;  ///< the weight's indices (and gaps) are Huffman-coded
  int64_t bytes = 0;     ///< stored bytes of the op's constants in the file
  int64_t nnz = -1;      ///< stored entries of a CSR / CSR-codebook weight, else -1
};

/// The ops of `shr_path` that carry constants, in file order. Throws BadInput if the runtime
/// refuses the file.
std::vector<DeployedLayer> deployed_layers(const std::string& shr_path);

/// Loads `shr_path` with the runtime and runs every sample of `d` (batch 1, float input).
/// Throws BadInput if the runtime refuses the file or the sample shape differs from the model's.
RuntimeEval runtime_eval(const std::string& shr_path, const ir::Dataset& d);

}  // namespace shrink::exporter
