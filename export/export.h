// Exporters: one entry point per format. No LibTorch.
//
//   exporter::export_model(g, "onnx", "out/model.onnx");
#pragma once
#include <string>
#include <vector>

#include "compress/ir/graph.h"

namespace shrink::exporter {

/// Formats of DESIGN.md: "shr", "c", "hdf5", "onnx".
std::vector<std::string> formats();
/// Writes g in `format` to `path` atomically. Throws BadInput for an unknown format,
/// NotImplemented for a format whose issue is not done yet (c, hdf5: issue 4). "shr":
/// export/shr_writer.h.
void export_model(const ir::Graph& g, const std::string& format, const std::string& path);

}  // namespace shrink::exporter
