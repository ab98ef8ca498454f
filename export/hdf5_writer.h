// Writer of an LPDNN-style HDF5 weight file (layout: docs/export.md): per layer with weights a
// group holding the integer weights of the quantized model (int8 / int16, or codebook indices +
// integer centroids, or CSR arrays when that is smaller), the Q-formats as attributes and the
// int32 biases; float32 tensors for fp32 models. No LibTorch.
//
//   exporter::export_hdf5(g, "out/lenet5-weights.h5");   // written atomically
#pragma once
#include <string>

#include "compress/ir/graph.h"

namespace shrink::exporter {

/// The HDF5 group name of a node: '/' becomes '_' (the node's name is kept in attribute "name").
std::string hdf5_group_name(const std::string& node);
/// Writes g's weights to path (temporary file + rename). Throws BadInput for malformed
/// quantization state, InternalError when HDF5 fails.
void export_hdf5(const ir::Graph& g, const std::string& path);

}  // namespace shrink::exporter
