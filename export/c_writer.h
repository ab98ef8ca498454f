// Writer of C source for bare-metal programs (no filesystem): the model's .shr bytes
// (export/shr_writer.h) as a const array aligned to 8 bytes, plus its size, the arena size the
// runtime needs per target (computed by loading the bytes with the runtime here) and the list of
// kernels it runs (so a firmware links only those).
//
//   exporter::export_c(g, "out/", {.name = "kws"});   // out/model.h, out/model.c
//   exporter::export_c(g, "out/kws.c");                // out/kws.h, out/kws.c
//
// With prefix P (CSourceOptions::name, or the model's name made a C identifier) and U = upper(P)
// the files define:
//   #define U_SIZE <bytes>            const uint8_t P_data[U_SIZE];   (aligned to 8)
//   #define U_ARENA_BYTES <bytes>     const size_t P_size, P_arena_bytes;
//   #define U_KERNELS(K) K(conv2d_q) K(maxpool_q) ...   (the kernels to register, shrink_rt.h)
// U_ARENA_BYTES is picked by the compiler's target: the x86-64 plan or the scalar kernels' plan.
// so several models can be linked into one program (docs/export.md).
#pragma once
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace shrink::exporter {

struct CSourceOptions {
  std::string name;  ///< prefix of every C name; empty: the model's name (or "shrink_model")
  /// Huffman-coded indices (ShrOptions::entropy). Off by default: the device would decode them
  /// at load into heap memory as large as the raw indices, while raw ones are read from flash.
  bool entropy = false;
};

/// s as a C identifier: characters other than [A-Za-z0-9_] become '_', a leading digit gets
/// "m_" in front, an empty string becomes "shrink_model".
std::string c_identifier(const std::string& s);

struct CSource {
  std::string prefix;        ///< the C prefix used
  std::string header, code;  ///< contents of the .h and the .c
  size_t data_bytes = 0;
  size_t arena_bytes = 0;         ///< U_ARENA_BYTES on x86-64 (this machine's plan, at least the scalar one)
  size_t scalar_arena_bytes = 0;  ///< U_ARENA_BYTES elsewhere: the scalar kernels' plan (shrink_rt_arena_size_scalar)
  std::vector<std::string> kernels;  ///< U_KERNELS: the kernel names the model runs (shrink_rt_model_kernels)
};

/// The C source for the .shr bytes of g; `header_file` is the name the .c includes. Throws
/// BadInput for a prefix that is not a C identifier and for what write_shr refuses.
CSource write_c(const ir::Graph& g, const std::string& header_file, const CSourceOptions& o = {});
/// Writes the two files atomically: `out` ending in ".c" gives that file and the ".h" beside it;
/// otherwise `out` must be an existing folder and gets model.h and model.c.
void export_c(const ir::Graph& g, const std::string& out, const CSourceOptions& o = {});

}  // namespace shrink::exporter
