#include "compress/ir/lut.h"

#include <cmath>

#include "compress/ir/error.h"
#include "runtime/include/shrink_fixed_point.h"

namespace shrink::quant {

bool is_lut_op(ir::Op op) { return op == ir::Op::LeakyReLU || op == ir::Op::Sigmoid || op == ir::Op::Tanh; }

double lut_function(const ir::Node& n, double x) {
  switch (n.op) {
    case ir::Op::LeakyReLU:
      return x >= 0 ? x : static_cast<double>(n.alpha) * x;
    case ir::Op::Sigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case ir::Op::Tanh:
      return std::tanh(x);
    default:
      throw BadInput("node '", n.name, "' (", ir::op_name(n.op), ") has no lookup table, expected LeakyReLU, Sigmoid or Tanh");
  }
}

int64_t Lut::lookup(int64_t q) const { return table[static_cast<size_t>(q - fx::qmin(in.bits))]; }

Lut build_lut(const ir::Node& n, QFormat in, QFormat out) {
  for (const QFormat& f : {in, out})
    if (!fx::valid_bits(f.bits) || !fx::valid_fl(f.fl))
      throw BadInput("node '", n.name, "': lookup-table format bits ", f.bits, " fl ", f.fl,
                     " is invalid, expected bits 2..16 and fl -8..24");
  lut_function(n, 0.0);  // rejects ops without a table
  Lut t;
  t.in = in;
  t.out = out;
  t.table.reserve(static_cast<size_t>(1) << in.bits);
  for (int64_t q = fx::qmin(in.bits); q <= fx::qmax(in.bits); ++q)
    t.table.push_back(static_cast<int32_t>(fx::quantize(lut_function(n, fx::dequantize(q, in.fl)), out.bits, out.fl)));
  return t;
}

}  // namespace shrink::quant
