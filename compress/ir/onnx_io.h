// ONNX import (opsets 11..17), fp32 export and QDQ export of fixed-point models. ONNX files are
// untrusted input.
//
//   ir::Graph g = ir::import_onnx("model.onnx");   // shapes inferred, metadata filled
//   ir::export_onnx(g, "out.onnx");                // opset 13, loads in ONNX Runtime
//   if (ir::onnx_qdq_unsupported(q).empty()) ir::export_onnx_qdq(q, "q.onnx");  // q quantized
//
// Supported ops: Conv, Gemm, MatMul (with a constant 2-D weight), BatchNormalization, Relu,
// Clip (constant min 0 / max 6 -> ReLU6, min 0 without max -> ReLU), LeakyRelu, Sigmoid,
// Tanh, MaxPool, AveragePool, GlobalAveragePool, Add (two activations, or an activation and a
// constant bias after MatMul), Concat, Flatten, Reshape, Softmax, Constant, Identity, Dropout
// (inference: identity). External data is read only from files inside the model's folder:
// absolute paths, "..", symlinks (the file or any parent) and files with more than one hard link
// are refused (docs/security.md). Names from the file are printed with control bytes as '?'.
#pragma once
#include <string>

#include "compress/ir/graph.h"

namespace shrink::ir {

/// Throws BadInput naming the file, node and op for anything unsupported or malformed.
Graph import_onnx(const std::string& path);
/// Writes fp32 ONNX (opset 13) atomically; weights as initializers. Folds nothing.
void export_onnx(const Graph& g, const std::string& path);

/// Writes a quantized graph (state "quant", docs/quantization.md) as QDQ ONNX atomically
/// (docs/export.md): every Conv / Gemm weight as int8 (B <= 8) or int16 initializer ->
/// DequantizeLinear (scale 2^-FL, per-axis on axis 0 for per-channel FLs; k-means layers: the
/// centroid integers), biases as int32 at FL_x + FL_w[c] -> DequantizeLinear; the normalized input
/// and every node output of the integer part -> QuantizeLinear -> DequantizeLinear with scale
/// 2^-FL, zero point 0, int8 / int16 by the format's bits. Opset 13 (IR 7) when every tensor is
/// 8-bit or narrower, else opset 21 (IR 10, the first with int16 QDQ). Close to the simulation,
/// not bit-exact (ONNX rounds half to even). BadInput when onnx_qdq_unsupported(g) is not empty.
void export_onnx_qdq(const Graph& g, const std::string& path);
/// Why export_onnx_qdq cannot write g (one line naming the tensor), or "" when it can: every
/// activation format (input, node outputs) must be 8 or 16 bits. BadInput on malformed state.
std::string onnx_qdq_unsupported(const Graph& g);

}  // namespace shrink::ir
