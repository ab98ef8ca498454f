// ONNX import (opsets 11..17) and fp32 export. ONNX files are untrusted input.
//
//   ir::Graph g = ir::import_onnx("model.onnx");   // shapes inferred, metadata filled
//   ir::export_onnx(g, "out.onnx");                // opset 13, loads in ONNX Runtime
//
// Supported ops: Conv, Gemm, MatMul (with a constant 2-D weight), BatchNormalization, Relu,
// Clip (constant min 0 / max 6 -> ReLU6, min 0 without max -> ReLU), LeakyRelu, Sigmoid,
// Tanh, MaxPool, AveragePool, GlobalAveragePool, Add (two activations, or an activation and a
// constant bias after MatMul), Concat, Flatten, Reshape, Softmax, Constant, Identity, Dropout
// (inference: identity). External data is read only from files inside the model's folder:
// absolute paths, "..", and symlinks (the file or any parent) are refused.
#pragma once
#include <string>

#include "compress/ir/graph.h"

namespace shrink::ir {

/// Throws BadInput naming the file, node and op for anything unsupported or malformed.
Graph import_onnx(const std::string& path);
/// Writes fp32 ONNX (opset 13) atomically; weights as initializers. Folds nothing.
void export_onnx(const Graph& g, const std::string& path);

}  // namespace shrink::ir
