// Writer of C source for bare-metal programs (no filesystem): the model's .shr bytes
// (export/shr_writer.h) as a const array aligned to 8 bytes, plus its size and the arena size the
// runtime needs (shrink_rt_arena_size, computed by loading the bytes with the runtime here).
//
//   exporter::export_c(g, "out/", {.name = "kws"});   // out/model.h, out/model.c
//   exporter::export_c(g, "out/kws.c");                // out/kws.h, out/kws.c
//
// With prefix P (CSourceOptions::name, or the model's name made a C identifier) the files define:
//   #define P_SIZE <bytes>            const uint8_t P_data[P_SIZE];   (aligned to 8)
//   #define P_ARENA_BYTES <bytes>     const size_t P_size, P_arena_bytes;
// so several models can be linked into one program (docs/export.md).
#pragma once
#include <string>

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
  size_t data_bytes = 0, arena_bytes = 0;
};

/// The C source for the .shr bytes of g; `header_file` is the name the .c includes. Throws
/// BadInput for a prefix that is not a C identifier and for what write_shr refuses.
CSource write_c(const ir::Graph& g, const std::string& header_file, const CSourceOptions& o = {});
/// Writes the two files atomically: `out` ending in ".c" gives that file and the ".h" beside it;
/// otherwise `out` must be an existing folder and gets model.h and model.c.
void export_c(const ir::Graph& g, const std::string& out, const CSourceOptions& o = {});

}  // namespace shrink::exporter
