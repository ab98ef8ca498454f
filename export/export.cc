#include "export/export.h"

#include "compress/ir/error.h"
#include "compress/ir/onnx_io.h"
#include "compress/ir/quant_state.h"
#include "export/c_writer.h"
#include "export/hdf5_writer.h"
#include "export/shr_writer.h"
#include "runtime/include/shrink_fixed_point.h"

namespace shrink::exporter {

std::vector<std::string> formats() { return {"shr", "c", "hdf5", "onnx"}; }

ir::Graph dequantized_weights(const ir::Graph& in) {
  ir::Graph g = in;
  const quant::ModelQuant mq = quant::read_model_quant(g);
  for (ir::Node& n : g.nodes) {
    auto it = mq.nodes.find(n.name);
    if (it != mq.nodes.end() && it->second.has_weight) {
      const quant::NodeQuant& nq = it->second;
      ir::Tensor& w = *n.tensor("weight");
      const int64_t oc = w.shape.at(0), per = oc > 0 ? w.numel() / oc : 0;
      for (int64_t i = 0; i < w.numel(); ++i) {
        const int fl = nq.weight_fl_of(i / per);
        w.at(i) = nq.codebook ? nq.codebook->value(i)
                              : static_cast<float>(fx::dequantize(fx::quantize(w.at(i), nq.weight_bits, fl), fl));
      }
      if (ir::Tensor* b = n.has_bias ? n.tensor("bias") : nullptr) {
        const int xfl = mq.format_of(n.inputs.at(0)).fl;
        for (int64_t c = 0; c < b->numel(); ++c) {
          const int fl = xfl + nq.weight_fl_of(c);
          b->at(c) = static_cast<float>(fx::dequantize(fx::quantize(b->at(c), 32, fl), fl));
        }
      }
    }
    n.state.erase("quant");
  }
  g.state.erase("quant");
  return g;
}

std::vector<std::string> export_model(const ir::Graph& g, const std::string& format, const std::string& path,
                                      const ExportOptions& o) {
  if (o.entropy && format != "shr" && format != "c")
    throw BadInput("the entropy option applies to the shr and c formats only, not '", format, "'");
  if (format == "onnx") {
    if (!quant::is_quantized(g)) {
      ir::export_onnx(g, path);
      return {};
    }
    const std::string why = ir::onnx_qdq_unsupported(g);
    if (why.empty()) {
      ir::export_onnx_qdq(g, path);
      return {};
    }
    ir::export_onnx(dequantized_weights(g), path);
    return {"export --format onnx: no QDQ form for this model: " + why +
            "; wrote fp32 ONNX with the quantized weights dequantized (activations are not quantized, so outputs "
            "differ from the simulation of shrink eval)"};
  }
  if (format == "shr") {
    export_shr(g, path, {.entropy = o.entropy.value_or(true)});
  } else if (format == "c") {
    export_c(g, path, {.name = o.name, .entropy = o.entropy.value_or(false)});
  } else if (format == "hdf5") {
    export_hdf5(g, path);
  } else {
    throw BadInput("unknown export format '", format, "' (expected one of: shr, c, hdf5, onnx)");
  }
  return {};
}

}  // namespace shrink::exporter
