// Writer of the runtime's .shr file (runtime/format/shr_format.h, docs/shr-format.md) from the
// graph IR: fp32 graphs (BatchNorm folded here) and quantized graphs (state "quant",
// docs/quantization.md). No LibTorch.
//
//   std::string bytes = exporter::write_shr(g);          // the file's bytes
//   exporter::export_shr(g, "out/lenet5.shr");            // written atomically
//
// What is stored (docs/shr-format.md, "What the exporter writes"):
// - fp32: f32 weights and biases, dense or CSR; ReLU / ReLU6 after Conv2d / Linear / Add fused.
// - quantized: a Quantize op on the (normalized) input, integer ops, Dequantize before a final
//   Softmax and at every integer graph output. Fixed-point weights as i8 (bits <= 8) or i16 with
//   one FL or one per output channel; k-means weights as a codebook (packed indices + fixed-point
//   centroids); biases i32 at FL_x + FL_w[c] (saturated); LeakyReLU / Sigmoid / Tanh as lookup
//   tables (compress/ir/lut.h); int32 accumulation flagged where it provably cannot overflow.
// - a weight with zeros is stored as CSR when that is smaller than dense; a k-means weight with
//   pruned zeros (zero reserved) as CsrCodebook (Deep Compression: CSR of the indices with u8
//   column gaps) when that is smaller than the packed codebook; with ShrOptions::entropy their
//   indices and gaps Huffman-coded (encoding 1) when that is smaller still.
#pragma once
#include <string>

#include "compress/ir/graph.h"

namespace shrink::exporter {

struct ShrOptions {
  bool allow_csr = true;  ///< store weights as CSR (k-means ones as CsrCodebook) where that is smaller
  /// Store a k-means weight's indices (and CsrCodebook gaps) as Huffman streams (encoding 1) when
  /// that makes the tensor smaller. The runtime then decodes them once at load (memory = the raw
  /// index bytes); the C export for microcontrollers turns this off by default.
  bool entropy = true;
};

/// The .shr bytes of g. Throws BadInput naming the node for what the runtime cannot run (a
/// BatchNorm that cannot be folded, a rank above 4, a float op reading an integer tensor, ...).
std::string write_shr(const ir::Graph& g, const ShrOptions& o = {});
/// write_shr, then ir::write_file_atomic(path).
void export_shr(const ir::Graph& g, const std::string& path, const ShrOptions& o = {});

}  // namespace shrink::exporter
