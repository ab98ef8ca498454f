// Lookup tables for element-wise non-linear ops on integer tensors (DESIGN.md, "Element-wise
// non-linear ops"): one output integer per input integer, computed in double precision with
// std:: math and fx::quantize. The simulation and the exporter use the same table (LibTorch-free,
// in shrink_ir so the exporter can build it; quantize/lut.h forwards here).
//
//   quant::Lut t = quant::build_lut(node, /*in=*/{8, 4}, /*out=*/{8, 7});
//   int64_t y = t.lookup(q);          // q in [-2^(B_in-1), 2^(B_in-1) - 1]
#pragma once
#include <cstdint>
#include <vector>

#include "compress/ir/graph.h"
#include "compress/ir/quant_state.h"

namespace shrink::quant {

/// Element-wise ops the integer part runs as tables: LeakyReLU (node.alpha), Sigmoid, Tanh.
bool is_lut_op(ir::Op op);
/// f(x) in double: LeakyReLU x >= 0 ? x : alpha * x (alpha widened from float), Sigmoid
/// 1 / (1 + exp(-x)), Tanh std::tanh(x). Throws BadInput for any other op.
double lut_function(const ir::Node& n, double x);

struct Lut {
  QFormat in, out;
  /// 2^B_in entries: table[q - qmin(B_in)] = fx::quantize(f(fx::dequantize(q, FL_in)), B_out, FL_out).
  std::vector<int32_t> table;
  int64_t lookup(int64_t q) const;  ///< q must be a B_in-bit integer
};

/// Throws BadInput for an op without a table or an invalid format.
Lut build_lut(const ir::Node& n, QFormat in, QFormat out);

}  // namespace shrink::quant
