// Exporters: one entry point per format. No LibTorch.
//
//   exporter::export_model(g, "onnx", "out/model.onnx");
//   exporter::export_model(g, "c", "out/", {.name = "kws"});   // out/model.h, out/model.c
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace shrink::exporter {

/// Formats of DESIGN.md: "shr", "c", "hdf5", "onnx".
std::vector<std::string> formats();
struct ExportOptions {
  std::string name;  ///< "c": prefix of the C names (export/c_writer.h); empty = from the model name
  /// "shr" and "c": Huffman-code k-means indices where smaller (ShrOptions::entropy); unset = the
  /// format's default (shr on, c off). Set for another format: BadInput.
  std::optional<bool> entropy;
};

/// Writes g in `format` to `path` atomically and returns warnings for the user (one line each).
/// Throws BadInput for an unknown format. "shr": export/shr_writer.h; "c": export/c_writer.h
/// (path: a .c file or a folder); "hdf5": export/hdf5_writer.h; "onnx": fp32 ONNX
/// (compress/ir/onnx_io.h); a quantized model whose activations are all 8- or 16-bit as QDQ ONNX
/// (ir::export_onnx_qdq), any other quantized model as fp32 with the weights it computes with
/// (dequantized_weights) and a warning saying which tensor has no QDQ form.
std::vector<std::string> export_model(const ir::Graph& g, const std::string& format, const std::string& path,
                                      const ExportOptions& o = {});

/// A quantized graph as fp32: every Conv2d / Linear weight replaced by the value the integer
/// model uses (fixed point q * 2^-FL[c]; k-means its centroid), every bias by its int32 value at
/// FL_x + FL_w[c] dequantized; quantization state dropped. Activations stay float.
ir::Graph dequantized_weights(const ir::Graph& g);

}  // namespace shrink::exporter
